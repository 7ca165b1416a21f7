/** Status badges and durations, shared by every page. */
import type { AttemptStatus, ExecutionStatus, NodeStatus, SessionState } from "./types.js";

export type AnyStatus = ExecutionStatus | NodeStatus | AttemptStatus | SessionState;

/** The colour family of a status: one table, so the DAG, lists and badges agree. */
export function statusTone(status: AnyStatus): "ok" | "bad" | "live" | "wait" | "off" {
  switch (status) {
    case "SUCCEEDED":
    case "READY":
      return "ok";
    case "FAILED":
    case "TIMED_OUT":
    case "LOST":
      return "bad";
    case "RUNNING":
    case "STARTING":
      return "live";
    case "QUEUED":
    case "PENDING":
      return "wait";
    default:
      return "off";
  }
}

/** "Running" for RUNNING: what a person reads. */
export function statusLabel(status: AnyStatus): string {
  return status
    .toLowerCase()
    .split("_")
    .map((w, i) => (i === 0 ? w[0]?.toUpperCase() + w.slice(1) : w))
    .join(" ");
}

export function StatusBadge({ status }: { status: AnyStatus }) {
  return (
    <span className={`badge tone-${statusTone(status)}`} data-status={status}>
      {statusLabel(status)}
    </span>
  );
}

/** 850 → "850 ms", 61_000 → "1m 1s", 3_723_000 → "1h 2m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${(ms / 1_000).toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** Time between two ISO timestamps; to `now` while the second is absent. */
export function durationBetween(
  start: string | undefined,
  end: string | undefined,
  now: number,
): string {
  if (!start) return "–";
  return formatDuration((end ? Date.parse(end) : now) - Date.parse(start));
}
