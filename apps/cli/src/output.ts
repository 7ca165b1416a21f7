import type { ExecutionDetail, ExecutionSummary } from "@drydock/contracts";

import { formatBytes } from "./progress.js";

export type OutputFormat = "text" | "json";

/** Writes a command's one result on stdout: exactly one JSON value with --output json. */
export function printResult(value: unknown, format: OutputFormat): void {
  if (format === "json") process.stdout.write(`${JSON.stringify(value ?? null)}\n`);
  else
    process.stdout.write(`${typeof value === "string" ? value : JSON.stringify(value, null, 2)}\n`);
}

function duration(start?: string, end?: string): string {
  if (!start) return "-";
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
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

export function formatExecutionDetail(detail: ExecutionDetail): string {
  const { execution: e, nodes } = detail;
  const lines = [
    `execution ${e.id}  workflow ${e.workflow} (version ${e.version})  ${e.status}  ${duration(e.createdAt, e.endedAt)}`,
    `inputs: ${JSON.stringify(e.inputs)}`,
  ];
  if (e.result !== undefined) lines.push(`result: ${JSON.stringify(e.result)}`);
  if (e.error) lines.push(`error: ${e.error.message}`);
  lines.push(
    "",
    formatTable([
      ["NODE", "TASK", "STATUS", "ATTEMPTS", "DURATION"],
      ...nodes.map((n) => [
        n.nodeId,
        n.task,
        n.status,
        String(n.attempts.length),
        duration(n.startedAt, n.endedAt),
      ]),
    ]),
  );
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
