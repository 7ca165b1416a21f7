/**
 * The heartbeat's link to an interactive session: before each beat it asks whether the session saw activity
 * and how long its tunnel has been down, after it hands over the server's answer about the session.
 * Attached while a session is held.
 */
import type { AgentHeartbeatOutput } from "@drydock/contracts";
import type { z } from "zod";

import type { AgentClient } from "../client.js";

/** What the heartbeat answers about the session: its deadline, which limit that is, a resume asked for. */
export type SessionBeatAnswer = NonNullable<z.output<typeof AgentHeartbeatOutput>["session"]>;

/** The session's side of the beat. */
export interface BeatingSession {
  /** Whether the session saw activity since the last beat (asked once per beat). */
  active(): boolean;
  tunnelDownMs(): number;
  /** Whether someone signed in through the pinned local port (the relay's tickets tell the server themselves). */
  opened(): boolean;
  answered(answer: SessionBeatAnswer | undefined): void;
}

export class SessionBeat {
  private session: BeatingSession | undefined;

  attach(session: BeatingSession): void {
    this.session = session;
  }

  detach(): void {
    this.session = undefined;
  }

  /** The heartbeat's input. */
  input(): { sessionActive?: boolean; tunnelDownMs?: number; sessionOpened?: boolean } | undefined {
    return this.session
      ? {
          sessionActive: this.session.active(),
          tunnelDownMs: Math.round(this.session.tunnelDownMs()),
          ...(this.session.opened() ? { sessionOpened: true } : {}),
        }
      : undefined;
  }

  /** The heartbeat's answer. */
  answered(answer: SessionBeatAnswer | undefined): void {
    this.session?.answered(answer);
  }

  /** One beat, now: sends the input, hands over the answer and returns it. */
  async sendNow(client: AgentClient) {
    const answer = await client.agent.heartbeat.mutate(this.input());
    this.answered(answer.session);
    return answer;
  }
}
