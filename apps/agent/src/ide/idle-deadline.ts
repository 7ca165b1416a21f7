/**
 * The session's deadline as the server last answered it (the server moves it on each active beat once the
 * IDE was opened), and which limit it is: `unopened` until someone first opens the IDE, then `idle`. Gives
 * the IDE's `status`, and the ends an answer brings — a resume a user asked for in the console or the CLI
 * (with its choice), or no time left under the limit that applies.
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
      this.ending.settle({
        kind: "resume",
        choice: answer.resumeChoice ?? "edited",
        by: "a user (console or CLI)",
        decidedHere: false,
      });
    else if (answer.idleRemainingMs <= 0)
      this.ending.settle({ kind: answer.limit === "unopened" ? "unopened" : "idle" });
  }

  status(): IdeStatus {
    return {
      state: this.ending.settled ? "ending" : "open",
      maxIdleSeconds: this.maxIdleSeconds,
      // Before the server first answered, nobody can have opened the session yet.
      limit: this.last.limit ?? "unopened",
      ...(this.last.idleDeadline ? { idleDeadline: this.last.idleDeadline } : {}),
      ...(this.last.idleRemainingMs !== undefined
        ? { idleRemainingMs: this.last.idleRemainingMs }
        : {}),
      resumeRequested: this.last.resumeRequested ?? false,
    };
  }
}
