/**
 * The session's idle deadline as the server last answered it (the server moves it on each active beat):
 * the IDE's `status`, and the ends an answer brings — a resume a user asked for in the console or the CLI,
 * or no time left.
 */
import type { IdeStatus } from "@drydock/contracts/ide";

import type { SessionBeatAnswer } from "./session-beat.js";
import type { Ending } from "./session-ending.js";

export class IdleDeadline {
  private last: Partial<SessionBeatAnswer> = {};

  constructor(
    private readonly ending: Ending,
    private readonly maxIdleSeconds: number,
  ) {}

  /** The heartbeat's answer about the session (none when the session is not the server's any more). */
  answered(answer: SessionBeatAnswer | undefined): void {
    if (!answer) return;
    this.last = answer;
    if (answer.resumeRequested)
      this.ending.settle({ kind: "resume", by: "a user (console or CLI)" });
    else if (answer.idleRemainingMs <= 0) this.ending.settle({ kind: "idle" });
  }

  status(): IdeStatus {
    return {
      state: this.ending.settled ? "ending" : "open",
      maxIdleSeconds: this.maxIdleSeconds,
      ...(this.last.idleDeadline ? { idleDeadline: this.last.idleDeadline } : {}),
      ...(this.last.idleRemainingMs !== undefined
        ? { idleRemainingMs: this.last.idleRemainingMs }
        : {}),
      resumeRequested: this.last.resumeRequested ?? false,
    };
  }
}
