/**
 * How a session ends. The first reason wins: a resume (asked for in the IDE, the console or the CLI, or the
 * paused task continued to its end in the debugger), a limit passed (nobody opened the IDE in time, or it
 * was idle too long), the attempt stopped (its stop signal), or code-server exiting on its own.
 */
import { defaultMaxUnopenedSeconds } from "@drydock/contracts";
import type { InteractiveConfig, RecordedResumeChoice } from "@drydock/contracts";

export type EndReason =
  | {
      kind: "resume";
      choice: RecordedResumeChoice;
      by: string;
      /**
       * The agent decided it (the IDE's commands, the debugger), so it reports the choice with the end; a
       * resume the server asked for is recorded there already, with the user who asked.
       */
      decidedHere: boolean;
    }
  | { kind: "idle" }
  | { kind: "unopened" }
  | { kind: "stopped" }
  | { kind: "crashed"; code: number | null };

/** The session's two limits, in seconds, for saying which one ended it. */
export interface SessionLimits {
  maxIdleSeconds: number;
  maxUnopenedSeconds: number;
}

/** The task's limits, the unopened one's default filled in. */
export function sessionLimits(
  interactive: Pick<InteractiveConfig, "maxIdleSeconds" | "maxUnopenedSeconds">,
): SessionLimits {
  return {
    maxIdleSeconds: interactive.maxIdleSeconds,
    maxUnopenedSeconds:
      interactive.maxUnopenedSeconds ?? defaultMaxUnopenedSeconds(interactive.maxIdleSeconds),
  };
}

/** The reason as the task's log says it ("code-server stopped (…)"). */
export function describeEndReason(reason: EndReason, limits: SessionLimits): string {
  switch (reason.kind) {
    case "resume":
      return reason.choice === "edited"
        ? `resume asked for by ${reason.by}`
        : `resume (${reason.choice}) asked for by ${reason.by}`;
    case "idle":
      return `no activity for ${limits.maxIdleSeconds} s`;
    case "unopened":
      return `nobody opened it within ${limits.maxUnopenedSeconds} s`;
    case "stopped":
      return "the attempt was stopped";
    case "crashed":
      return `it exited on its own with code ${String(reason.code)}`;
  }
}

export class Ending {
  /** The reason, once the session is ending. */
  settled: EndReason | undefined;
  readonly promise: Promise<EndReason>;
  private resolve!: (reason: EndReason) => void;
  private readonly onAbort = () => this.settle({ kind: "stopped" });

  constructor(private readonly signal: AbortSignal) {
    this.promise = new Promise((resolve) => (this.resolve = resolve));
    if (signal.aborted) this.onAbort();
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** True when this reason ended the session; false when it was already ending. */
  settle(reason: EndReason): boolean {
    if (this.settled) return false;
    this.settled = reason;
    this.resolve(reason);
    return true;
  }

  dispose(): void {
    this.signal.removeEventListener("abort", this.onAbort);
  }
}
