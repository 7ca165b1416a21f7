/** What the task pane says about a node's interactive session, and what it offers to do with the node. */
import type {
  InteractiveSession,
  NodeExecution,
  NodeStatus,
  RecordedResumeChoice,
  ResumeRecord,
  SessionLimit,
} from "../ui/types.js";
import { formatTimeOfDay } from "./time-of-day.js";

/** 299_000 → "4m 59s", 7_260_000 → "2h 01m", 42_000 → "42s". */
export function formatRemaining(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/**
 * The countdown to the session's deadline on the local clock, by the limit that applies: "Session ends in
 * 4m 59s unless opened" while nobody has opened the IDE, then "Ends idle in 4m 59s"; "…now…" once passed.
 */
export function countdownText(deadline: string, now: number, limit: SessionLimit = "idle"): string {
  const left = Date.parse(deadline) - now;
  if (!Number.isFinite(left)) return "";
  if (limit === "unopened")
    return left <= 0
      ? "Ending now: nobody opened it…"
      : `Session ends in ${formatRemaining(left)} unless opened`;
  return left <= 0 ? "Ending idle now…" : `Ends idle in ${formatRemaining(left)}`;
}

const RESUMED: Record<RecordedResumeChoice, string> = {
  edited: "the task was resumed and ran with the edited code",
  original: "the task's original code runs again, as a new attempt",
  fail: "the task was ended as failed",
  continued: "the task was continued in the debugger and ran to its end",
};

const END_REASONS: Record<
  NonNullable<InteractiveSession["endReason"]>,
  (session: InteractiveSession, choice: RecordedResumeChoice) => string
> = {
  resumed: (_, choice) => RESUMED[choice],
  idle: () => "nobody used the IDE for its idle time, so it was stopped without running the task",
  unopened: (s) =>
    `nobody opened the IDE within ${s.maxUnopenedSeconds} s (its maxUnopenedSeconds), so it was stopped and the attempt failed`,
  aborted: () => "the execution was aborted",
  failed: () => "the IDE or the task's process failed",
};

/** One line on where the session stands: "Session ended: idle", "VS Code is starting…". */
export function sessionHeadline(session: InteractiveSession): string {
  if (session.state === "ENDED") return `Session ended: ${session.endReason ?? "unknown reason"}`;
  if (session.state === "READY") return "VS Code is ready";
  return "VS Code is starting…";
}

/**
 * Why it ended, in a sentence, when it did; a resumed one by the choice its attempt recorded (`resume`),
 * else the one asked for.
 */
export function sessionEndExplanation(
  session: InteractiveSession,
  resume?: ResumeRecord,
): string | undefined {
  if (session.state !== "ENDED" || !session.endReason) return undefined;
  return END_REASONS[session.endReason](
    session,
    resume?.choice ?? session.resumeChoice ?? "edited",
  );
}

/** "resumed: original by alice@example.com at 14:03:27": how an attempt's session was resumed. */
export function resumeRecordText(resume: ResumeRecord): string {
  return `resumed: ${resume.choice} by ${resume.by} at ${formatTimeOfDay(resume.at)}`;
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
