/**
 * The status bar's countdown, as pure functions of the agent's `status` and the local clock: the
 * extension ticks it every second without asking the agent, and corrects it at every fetch. It counts
 * down the limit that applies: `unopened` until the server has seen the IDE opened, then `idle`.
 */
import type { IdeStatus } from "@drydock/contracts/ide";

/** Under this much time left the item turns to the warning colour. */
export const WARNING_BELOW_MS = 60_000;

/** `4:59`, `0:07`, `1:02:03`: whole seconds, rounded up so that "0:00" never shows while time is left. */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${ss}` : `${minutes}:${ss}`;
}

/** A status and the local deadline derived from it at its fetch. */
export interface FetchedStatus {
  status: IdeStatus;
  deadline: number | undefined;
}

/**
 * The idle deadline on the local clock, in epoch milliseconds, or undefined when the agent knows none.
 * `idleDeadline` is on the server's clock, which may be skewed against ours; `idleRemainingMs` is a
 * duration, immune to skew. The offset between the two at fetch time (`fetchedAt`, local) is the skew, and
 * the deadline corrected by it is simply `fetchedAt + idleRemainingMs`. Without `idleRemainingMs` the
 * server's deadline is taken as it is.
 *
 * While the server's deadline stands (`previous` had the same one), the local deadline stands too: the
 * agent may repeat the remaining time of its last exchange with the server, and recomputing from a repeated
 * value would push the countdown back up at every fetch.
 */
export function localDeadline(
  status: IdeStatus,
  fetchedAt: number,
  previous?: FetchedStatus,
): number | undefined {
  if (
    previous?.deadline !== undefined &&
    status.idleDeadline !== undefined &&
    status.idleDeadline === previous.status.idleDeadline
  ) {
    return previous.deadline;
  }
  if (status.idleRemainingMs !== undefined) return fetchedAt + status.idleRemainingMs;
  if (status.idleDeadline === undefined) return undefined;
  const serverDeadline = Date.parse(status.idleDeadline);
  return Number.isFinite(serverDeadline) ? serverDeadline : undefined;
}

export interface CountdownView {
  text: string;
  tooltip: string;
  /** Show with the warning background. */
  warning: boolean;
}

/** What the status bar shows at local time `now` for the last fetched `status` and its local deadline. */
export function renderCountdown(
  status: IdeStatus,
  deadline: number | undefined,
  now: number,
): CountdownView {
  if (status.state === "ending" || status.resumeRequested) {
    return {
      text: "$(sync~spin) Resuming…",
      tooltip: "The session is ending: code-server stops and the task resumes as chosen.",
      warning: false,
    };
  }
  const left = deadline === undefined ? undefined : deadline - now;
  // Until the server has seen the IDE opened, the session ends after maxUnopenedSeconds whatever happens in it.
  if (status.limit === "unopened") {
    const tooltip = `Nobody has opened this session yet, as far as the server knows: it ends unless opened. Once opened, it ends after ${status.maxIdleSeconds} s without activity. Click to keep it alive.`;
    if (left === undefined) return { text: "$(watch) ends unless opened", tooltip, warning: false };
    if (left <= 0) return { text: "$(watch) ends now unless opened", tooltip, warning: true };
    return {
      text: `$(watch) ends in ${formatRemaining(left)} unless opened`,
      tooltip,
      warning: left < WARNING_BELOW_MS,
    };
  }
  const tooltip = `The session ends after ${status.maxIdleSeconds} s without activity. Click to keep it alive.`;
  if (left === undefined) return { text: "$(watch) Idle timer", tooltip, warning: false };
  if (left <= 0) return { text: "$(watch) Idle now", tooltip, warning: true };
  return {
    text: `$(watch) Idle in ${formatRemaining(left)}`,
    tooltip,
    warning: left < WARNING_BELOW_MS,
  };
}
