import type {
  Attempt,
  ExecutionDetail,
  ExecutionParent,
  ExecutionSummary,
  InteractiveSession,
  NodeReuse,
  WorkflowVersion,
} from "@drydock/contracts";
import { describePause } from "@drydock/contracts";

import { formatBytes } from "./progress.js";

export type OutputFormat = "text" | "json";

/** Writes a command's one result on stdout: exactly one JSON value with --output json. */
export function printResult(value: unknown, format: OutputFormat): void {
  if (format === "json") process.stdout.write(`${JSON.stringify(value ?? null)}\n`);
  else
    process.stdout.write(`${typeof value === "string" ? value : JSON.stringify(value, null, 2)}\n`);
}

function duration(start?: string, end?: string, now = Date.now()): string {
  if (!start) return "-";
  const ms = (end ? Date.parse(end) : now) - Date.parse(start);
  return ms < 1_000 ? `${ms}ms` : `${(ms / 1_000).toFixed(1)}s`;
}

/** Rows as aligned columns; the first row is the header. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Where a recovered or forked execution came from, in words. */
export function describeParent(parent: ExecutionParent): string {
  if (parent.kind === "fork")
    return `forked from ${parent.executionId}${parent.nodeId ? ` node ${parent.nodeId}` : ""}`;
  const forced = parent.force.length > 0 ? ` (run again: ${parent.force.join(", ")})` : "";
  return `recovered from ${parent.executionId}${forced}`;
}

/** Where a node's reused outputs came from. */
export const describeReuse = (reused: NodeReuse) =>
  `${reused.from === "parent" ? "reused" : "cached"} from ${reused.executionId} ${reused.nodeId}`;

/**
 * When a live session ends unless someone acts, by the limit that applies now: `ends in 4m 59s unless opened`
 * while nobody has opened its IDE, else `ends idle in 9h 59m unless used`.
 */
export function describeSessionEnd(session: InteractiveSession, now = Date.now()): string {
  const unopened = session.limit === "unopened";
  const left = session.idleDeadline
    ? (Date.parse(session.idleDeadline) - now) / 1_000
    : unopened
      ? session.maxUnopenedSeconds
      : session.maxIdleSeconds;
  if (left <= 0) return unopened ? "ending now: nobody opened it" : "ending now: idle";
  return unopened
    ? `ends in ${formatSeconds(left)} unless opened`
    : `ends idle in ${formatSeconds(left)} unless used`;
}

/** What `executions get` says of an attempt with an IDE session or a resume choice; nothing for the others. */
export function describeAttempt(nodeId: string, attempt: Attempt, now = Date.now()): string[] {
  const { session, resume } = attempt;
  if (!session && !resume) return [];
  const error = attempt.error
    ? `: ${attempt.error.message}${attempt.error.code ? ` [${attempt.error.code}]` : ""}`
    : "";
  const lines = [`${nodeId} attempt ${attempt.number}: ${attempt.status}${error}`];
  if (session?.state === "ENDED")
    lines.push(`  IDE session ended: ${session.endReason ?? "ended"}`);
  else if (session) {
    lines.push(`  IDE session ${session.state}, ${describeSessionEnd(session, now)}`);
    if (session.pause) lines.push(`  ${describePause(session.pause)}`);
    if (session.resumeRequestedAt)
      lines.push(
        `  asked to resume: ${session.resumeChoice ?? "edited"} at ${session.resumeRequestedAt}`,
      );
  }
  if (resume) lines.push(`  resumed: ${resume.choice} by ${resume.by} at ${resume.at}`);
  return lines;
}

export function formatExecutionDetail(detail: ExecutionDetail, now = Date.now()): string {
  const { execution: e, nodes } = detail;
  const lines = [
    `execution ${e.id}  workflow ${e.workflow} (version ${e.version})  ${e.status}  ${duration(e.createdAt, e.endedAt, now)}`,
  ];
  if (e.parent) lines.push(describeParent(e.parent));
  if (e.overwriteCache) lines.push("launched with --overwrite-cache: cached tasks ran again");
  if (e.pauseBefore.length > 0)
    lines.push(`launched with --pause-before ${e.pauseBefore.join(", ")}`);
  lines.push(`inputs: ${JSON.stringify(e.inputs)}`);
  if (e.result !== undefined) lines.push(`result: ${JSON.stringify(e.result)}`);
  if (e.error) lines.push(`error: ${e.error.message}`);
  // The outputs' origin only when some node did not run.
  const reuse = nodes.some((n) => n.reused);
  lines.push(
    "",
    formatTable([
      ["NODE", "TASK", "STATUS", "ATTEMPTS", "DURATION", ...(reuse ? ["OUTPUTS"] : [])],
      ...nodes.map((n) => [
        n.nodeId,
        n.task,
        n.status,
        String(n.attempts.length),
        duration(n.startedAt, n.endedAt, now),
        ...(reuse ? [n.reused ? describeReuse(n.reused) : ""] : []),
      ]),
    ]),
  );
  // Sessions and resume choices, attempt by attempt, under the table.
  const attempts = nodes.flatMap((n) =>
    n.attempts.flatMap((a) => describeAttempt(n.nodeId, a, now)),
  );
  if (attempts.length > 0) lines.push("", ...attempts);
  return lines.join("\n");
}

/** A registered version: its tasks, where its sources came from, and a fork's lineage. */
export function formatWorkflowVersion(v: WorkflowVersion): string {
  const lines = [
    `workflow ${v.name}  version ${v.version}  registered ${v.createdAt}`,
    `bundle: sha256 ${v.bundle.slice(0, 12)}  entry ${v.entry}`,
    `tasks: ${v.tasks.map((t) => t.name).join(", ")}`,
  ];
  if (v.origin) {
    lines.push(`registered from: ${v.origin.root} on ${v.origin.host}`);
    const git = v.origin.git;
    if (git) {
      const dirty = git.dirty
        ? ` with uncommitted changes${git.dirtyFiles.length > 0 ? ` (${git.dirtyFiles.join(", ")})` : ""}`
        : " (clean)";
      lines.push(
        `git: commit ${git.commit}${git.branch ? ` on ${git.branch}` : " (detached)"}${dirty}`,
      );
    }
  }
  const fork = v.forkedFrom;
  if (fork) {
    const changed =
      fork.changedTasks.length > 0 ? ` (changed: ${fork.changedTasks.join(", ")})` : "";
    lines.push(
      `forked from ${fork.version} with edits from ${fork.executionId} ${fork.nodeId}${changed}`,
    );
  }
  return lines.join("\n");
}

/** The list page's rows (summaries: inputs by size; `drydock executions get` shows them whole). */
export function formatExecutionList(
  executions: Pick<
    ExecutionSummary,
    "id" | "workflow" | "status" | "createdAt" | "endedAt" | "inputsBytes"
  >[],
): string {
  if (executions.length === 0)
    return "no executions yet (start one with `drydock run --remote <file> <workflow>`)";
  return formatTable([
    ["ID", "WORKFLOW", "STATUS", "CREATED", "DURATION", "INPUTS"],
    ...executions.map((e) => [
      e.id,
      e.workflow,
      e.status,
      e.createdAt,
      duration(e.createdAt, e.endedAt),
      formatBytes(e.inputsBytes),
    ]),
  ]);
}

/** One line saying that part of an attempt's log was lost, and why. */
export function describeLogLoss(attempt: string, lost: { lines: number; reason: string }): string {
  return `drydock: the log of ${attempt} is incomplete: ${lost.lines} line(s) could not be stored (${lost.reason})`;
}

/** A span of seconds as people read it: `45s`, `12m 5s`, `10h 0m`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3_600)}h ${Math.floor((s % 3_600) / 60)}m`;
}
