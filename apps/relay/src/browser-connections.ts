import type { Duplex } from "node:stream";

import type { ReportConnectionsInput } from "@drydock/contracts";
import type { z } from "zod";

import type { SessionGrant } from "./cookies.js";

/** One person's open connections to one session's IDE. */
interface PersonConnections {
  /** When the first of the connections now open was admitted (ms since the epoch). */
  since: number;
  /** Each connection, with the earliest issue time (ms) of the cookies admitted on it. */
  sockets: Map<Duplex, number>;
}

export type ConnectionPicture = z.input<typeof ReportConnectionsInput>["sessions"];

/** When a grant's cookie was issued, in ms: it carries its expiry, and every cookie lives `cookieTtlSeconds`. */
export function issuedAtMs(grant: SessionGrant, cookieTtlSeconds: number): number {
  return (grant.expires - cookieTtlSeconds) * 1000;
}

/**
 * The browser connections admitted to sessions' IDEs, by session and person: a revocation destroys that
 * person's connections to that session at once (admission is per request, but a WebSocket or a kept-alive
 * connection admitted earlier must not outlive the access that let it in), and the control plane hears who
 * is connected now. A connection counts once it carried an admitted request, on the fast path or the HTTP
 * server, until it closes.
 */
export class BrowserConnections {
  private readonly bySession = new Map<string, Map<string, PersonConnections>>();

  /** `onChange` hears each connection that comes or goes (the connection report is debounced on it). */
  constructor(
    private readonly cookieTtlSeconds: number,
    private readonly onChange: () => void,
  ) {}

  /** Counts `socket` as `grant`'s person's connection to its session until it closes. */
  hold(socket: Duplex, grant: SessionGrant): void {
    if (socket.destroyed) return;
    const issued = issuedAtMs(grant, this.cookieTtlSeconds);
    let people = this.bySession.get(grant.sessionId);
    if (!people)
      this.bySession.set(grant.sessionId, (people = new Map<string, PersonConnections>()));
    let person = people.get(grant.userId);
    if (!person) people.set(grant.userId, (person = { since: Date.now(), sockets: new Map() }));
    const known = person.sockets.get(socket);
    if (known !== undefined) {
      if (issued < known) person.sockets.set(socket, issued);
      return;
    }
    person.sockets.set(socket, issued);
    const { sessionId, userId } = grant;
    socket.once("close", () => this.release(socket, sessionId, userId));
    this.onChange();
  }

  /**
   * Destroys `userId`'s connections to `sessionId` that were admitted with a cookie issued before `atMs`; a
   * person shared the session again since keeps the connections of the new cookie. Returns how many.
   */
  cut(sessionId: string, userId: string, atMs: number): number {
    const person = this.bySession.get(sessionId)?.get(userId);
    if (!person) return 0;
    let cut = 0;
    for (const [socket, issued] of [...person.sockets]) {
      if (issued < atMs) {
        socket.destroy();
        cut++;
      }
    }
    return cut;
  }

  /** Everyone connected now, by session: the whole picture a connection report carries. */
  picture(): ConnectionPicture {
    const sessions: ConnectionPicture = [];
    for (const [sessionId, people] of this.bySession) {
      const users = [...people].map(([userId, person]) => ({
        userId,
        connections: person.sockets.size,
        since: new Date(person.since).toISOString(),
      }));
      sessions.push({ sessionId, users });
    }
    return sessions;
  }

  private release(socket: Duplex, sessionId: string, userId: string): void {
    const people = this.bySession.get(sessionId);
    const person = people?.get(userId);
    if (!people || !person?.sockets.delete(socket)) return;
    if (person.sockets.size === 0) people.delete(userId);
    if (people.size === 0) this.bySession.delete(sessionId);
    this.onChange();
  }
}
