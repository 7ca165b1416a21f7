/**
 * Stored rows as API objects, in the contracts' shapes (`toExecution`, `toSession`, …), and the column lists
 * that select the lighter ones (summaries, sessions without their patch).
 */
import type {
  Attempt,
  ErrorInfo,
  Execution,
  ExecutionSummary,
  ExtensionProblem,
  InteractiveSession,
  JsonValue,
  NodeExecution,
  ResumeChoice,
  SessionLimit,
} from "@drydock/contracts";
import { PREVIEW_CHARS } from "@drydock/contracts";
import { sql } from "kysely";

import type { AttemptRow, ExecutionRow, NodeRow, SessionRow } from "../db/schema.js";

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : undefined);
const opt = <K extends string, V>(key: K, value: V | null | undefined) =>
  value === null || value === undefined ? {} : ({ [key]: value } as Record<K, V>);

/** The fields an execution and its summary share: everything but its values (inputs, result, error). */
type ExecutionHeadRow = Pick<
  ExecutionRow,
  | "id"
  | "project"
  | "workflow"
  | "version"
  | "status"
  | "created_at"
  | "ended_at"
  | "debug_of"
  | "parent"
  | "overwrite_cache"
  | "pause_before"
> & {
  created_by?: string | null;
  /** Who launched it, by name, where the query joined it. */
  created_by_name?: string | null;
};

function executionHead(row: ExecutionHeadRow) {
  const debugOf = row.debug_of;
  return {
    ...(row.created_by && row.created_by_name
      ? { createdBy: { id: row.created_by, name: row.created_by_name } }
      : {}),
    id: row.id,
    project: row.project,
    workflow: row.workflow,
    version: row.version,
    status: row.status as Execution["status"],
    createdAt: row.created_at.toISOString(),
    ...opt("endedAt", iso(row.ended_at)),
    ...(debugOf ? { debugOf: { executionId: debugOf.executionId, nodeId: debugOf.nodeId } } : {}),
    ...opt("parent", row.parent),
    overwriteCache: row.overwrite_cache,
    pauseBefore: row.pause_before,
  };
}

/** An execution row, with the name of who launched it when the query joined it. */
export function toExecution(row: ExecutionRow & { created_by_name?: string | null }): Execution {
  return {
    ...executionHead(row),
    inputs: row.inputs as Record<string, JsonValue>,
    ...opt("result", row.result as JsonValue | null),
    ...opt("error", row.error as ErrorInfo | null),
  };
}

/**
 * An execution's columns as lists show it: everything but the values themselves, which can weigh megabytes
 * each (the inputs and result come as their size and preview; of the error, its message cut short and code).
 */
export const SUMMARY_COLUMNS = [
  "executions.id",
  "executions.project",
  "executions.workflow",
  "executions.version",
  "executions.status",
  "executions.created_at",
  "executions.ended_at",
  "executions.debug_of",
  "executions.parent",
  "executions.overwrite_cache",
  "executions.pause_before",
  "executions.created_by",
  sql<string | null>`(SELECT users.name FROM users WHERE users.id = executions.created_by)`.as(
    "created_by_name",
  ),
  // Rows from before the sizes were kept measure their stored text (`json` is kept as text: no parsing).
  sql<number>`coalesce(executions.inputs_bytes, octet_length(executions.inputs::text))`.as(
    "inputs_bytes",
  ),
  sql<string>`coalesce(executions.inputs_preview, left(executions.inputs::text, ${sql.lit(PREVIEW_CHARS)}))`.as(
    "inputs_preview",
  ),
  sql<number | null>`coalesce(executions.result_bytes, octet_length(executions.result::text))`.as(
    "result_bytes",
  ),
  sql<
    string | null
  >`coalesce(executions.result_preview, left(executions.result::text, ${sql.lit(PREVIEW_CHARS)}))`.as(
    "result_preview",
  ),
  sql<string | null>`left(executions.error->>'message', ${sql.lit(PREVIEW_CHARS)})`.as(
    "error_message",
  ),
  sql<string | null>`executions.error->>'code'`.as("error_code"),
] as const;
export type SummaryView = ExecutionHeadRow & {
  inputs_bytes: number;
  inputs_preview: string;
  result_bytes: number | null;
  result_preview: string | null;
  error_message: string | null;
  error_code: string | null;
};

export function toExecutionSummary(row: SummaryView): ExecutionSummary {
  return {
    ...executionHead(row),
    inputsPreview: row.inputs_preview,
    inputsBytes: row.inputs_bytes,
    ...(row.result_preview !== null
      ? { resultPreview: row.result_preview, resultBytes: row.result_bytes ?? 0 }
      : {}),
    ...(row.error_message !== null
      ? { error: { message: row.error_message, ...opt("code", row.error_code) } }
      : {}),
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
  "interactive_sessions.max_unopened_seconds",
  "interactive_sessions.opened_at",
  "interactive_sessions.idle_deadline",
  "interactive_sessions.resume_requested_at",
  "interactive_sessions.resume_choice",
  "interactive_sessions.pause",
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
    maxUnopenedSeconds: row.max_unopened_seconds,
    ...opt("openedAt", iso(row.opened_at)),
    limit: sessionLimit(row.opened_at),
    ...opt("idleDeadline", iso(row.idle_deadline)),
    ...opt("resumeRequestedAt", iso(row.resume_requested_at)),
    ...opt("resumeChoice", row.resume_choice as ResumeChoice | null),
    ...opt("pause", row.pause),
    extensionProblems: row.extension_problems as ExtensionProblem[],
    hasChanges: row.has_changes,
    ...opt("endReason", row.end_reason as InteractiveSession["endReason"] | null),
    ...opt("firstRunError", row.first_run_error as ErrorInfo | null),
    createdAt: row.created_at.toISOString(),
    ...opt("endedAt", iso(row.ended_at)),
  };
}

/** The limit a session's deadline belongs to: `unopened` until someone first opened its IDE. */
export const sessionLimit = (openedAt: Date | null): SessionLimit =>
  openedAt ? "idle" : "unopened";

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
    ...(row.log_lost_lines > 0
      ? { logLost: { lines: row.log_lost_lines, reason: row.log_lost_reason ?? "unknown" } }
      : {}),
    ...(session ? { session: toSession(session) } : {}),
    ...opt("resume", row.resume),
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
    ...opt("reused", row.reused),
  };
}
