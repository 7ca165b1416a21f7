/** What the task pane says about a node's interactive session, and what it offers to do with the node. */
import type { InteractiveSession, NodeExecution, NodeStatus } from "../ui/types.js";

/** 299_000 → "4m 59s", 7_260_000 → "2h 01m", 42_000 → "42s". */
export function formatRemaining(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** "Ends idle in 4m 59s", against the local clock; "Ending idle now…" once the deadline has passed. */
export function idleCountdownText(idleDeadline: string, now: number): string {
  const left = Date.parse(idleDeadline) - now;
  if (!Number.isFinite(left)) return "";
  return left <= 0 ? "Ending idle now…" : `Ends idle in ${formatRemaining(left)}`;
}

const END_REASONS: Record<NonNullable<InteractiveSession["endReason"]>, string> = {
  resumed: "the task was resumed and ran with the edited code",
  idle: "nobody used the IDE for its idle time, so it was stopped without running the task",
  aborted: "the execution was aborted",
  failed: "the IDE or the task's process failed",
};

/** One line on where the session stands: "Session ended: idle", "VS Code is starting…". */
export function sessionHeadline(session: InteractiveSession): string {
  if (session.state === "ENDED") return `Session ended: ${session.endReason ?? "unknown reason"}`;
  if (session.state === "READY") return "VS Code is ready";
  return "VS Code is starting…";
}

/** Why it ended, in a sentence, when it did. */
export function sessionEndExplanation(session: InteractiveSession): string | undefined {
  return session.state === "ENDED" && session.endReason
    ? END_REASONS[session.endReason]
    : undefined;
}

/** The session of the node's latest attempt: the one the pane acts on. */
export function latestSession(node: NodeExecution | undefined): InteractiveSession | undefined {
  return node?.attempts.at(-1)?.session;
}

/** The link is offered only once code-server answers through the relay. */
export function canOpenIde(
  session: InteractiveSession | undefined,
): session is InteractiveSession & { link: string } {
  return session?.state === "READY" && Boolean(session.link);
}

/** Resume and keep-alive act on a live session. */
export function isLiveSession(
  session: InteractiveSession | undefined,
): session is InteractiveSession {
  return session !== undefined && session.state !== "ENDED";
}

const DEBUGGABLE: readonly NodeStatus[] = ["SUCCEEDED", "FAILED", "ABORTED"];

/**
 * Debug re-runs a finished node with the inputs it had; a fan-out runs no task itself (its elements can be
 * debugged), and a node that ended before it ran has no inputs.
 */
export function canDebug(node: NodeExecution | undefined, isMap: boolean): boolean {
  return Boolean(node && !isMap && DEBUGGABLE.includes(node.status) && node.inputs);
}

/** Some attempt of the node held a session, so there may be IDE edits to download. */
export function hadSession(node: NodeExecution | undefined): boolean {
  return Boolean(node?.attempts.some((a) => a.session));
}

/** `x1abc-n1[0].patch` → a name every file system takes: `x1abc-n1_0_.patch`. */
export function patchFileName(executionId: string, nodeId: string): string {
  return `${executionId}-${nodeId}.patch`.replace(/[^A-Za-z0-9._-]/g, "_");
}
