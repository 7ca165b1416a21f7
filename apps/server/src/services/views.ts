/** How stored rows are shown through the API, in the contracts' shapes. */
import type { Attempt, ErrorInfo, Execution, ExtensionProblem, InteractiveSession, JsonValue, NodeExecution } from "@drydock/contracts";
import { sql } from "kysely";

import type { AttemptRow, ExecutionRow, NodeRow, SessionRow } from "../db/schema.js";

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : undefined);
const opt = <K extends string, V>(key: K, value: V | null | undefined) => (value === null || value === undefined ? {} : ({ [key]: value } as Record<K, V>));

export function toExecution(row: ExecutionRow): Execution {
  const debugOf = row.debug_of;
  return {
    id: row.id,
    project: row.project,
    workflow: row.workflow,
    version: row.version,
    status: row.status as Execution["status"],
    inputs: row.inputs as Record<string, JsonValue>,
    ...opt("result", row.result as JsonValue | null),
    ...opt("error", row.error as ErrorInfo | null),
    createdAt: row.created_at.toISOString(),
    ...opt("endedAt", iso(row.ended_at)),
    ...(debugOf ? { debugOf: { executionId: debugOf.executionId, nodeId: debugOf.nodeId } } : {}),
  };
}

/**
 * A session's columns as users see it: everything but the patch of IDE edits, which can be megabytes and
 * only `sessions.changes` returns. Table-qualified, so the list serves joins, selects and RETURNING alike.
 */
export const SESSION_COLUMNS = [
  "interactive_sessions.id",
  "interactive_sessions.attempt_id",
  "interactive_sessions.state",
  "interactive_sessions.link",
  "interactive_sessions.max_idle_seconds",
  "interactive_sessions.idle_deadline",
  "interactive_sessions.resume_requested_at",
  "interactive_sessions.extension_problems",
  "interactive_sessions.end_reason",
  "interactive_sessions.first_run_error",
  "interactive_sessions.created_at",
  "interactive_sessions.ended_at",
  // An empty patch is no edits (the agent saves "" once they are undone).
  sql<boolean>`coalesce(interactive_sessions.changes, '') <> ''`.as("has_changes"),
] as const;
export type SessionView = Omit<SessionRow, "changes" | "changes_at"> & { has_changes: boolean };

export function toSession(row: SessionView): InteractiveSession {
  return {
    id: row.id,
    attemptId: row.attempt_id,
    state: row.state as InteractiveSession["state"],
    ...opt("link", row.link),
    maxIdleSeconds: row.max_idle_seconds,
    ...opt("idleDeadline", iso(row.idle_deadline)),
    ...opt("resumeRequestedAt", iso(row.resume_requested_at)),
    extensionProblems: row.extension_problems as ExtensionProblem[],
    hasChanges: row.has_changes,
    ...opt("endReason", row.end_reason as InteractiveSession["endReason"] | null),
    ...opt("firstRunError", row.first_run_error as ErrorInfo | null),
    createdAt: row.created_at.toISOString(),
    ...opt("endedAt", iso(row.ended_at)),
  };
}

export function toAttempt(row: AttemptRow, session?: SessionView): Attempt {
  return {
    id: row.id,
    executionId: row.execution_id,
    nodeId: row.node_id,
    number: row.number,
    status: row.status as Attempt["status"],
    ...opt("error", row.error as ErrorInfo | null),
    createdAt: row.created_at.toISOString(),
    ...opt("startedAt", iso(row.started_at)),
    ...opt("endedAt", iso(row.ended_at)),
    ...(session ? { session: toSession(session) } : {}),
  };
}

export function toNode(row: NodeRow, attempts: Attempt[]): NodeExecution {
  return {
    executionId: row.execution_id,
    nodeId: row.node_id,
    task: row.task,
    ...opt("parentNodeId", row.parent_node_id),
    ...opt("mapIndex", row.map_index),
    status: row.status as NodeExecution["status"],
    ...opt("inputs", row.inputs as Record<string, JsonValue> | null),
    ...opt("outputs", row.outputs as JsonValue | null),
    ...opt("error", row.error as ErrorInfo | null),
    attempts,
    ...opt("startedAt", iso(row.started_at)),
    ...opt("endedAt", iso(row.ended_at)),
  };
}
