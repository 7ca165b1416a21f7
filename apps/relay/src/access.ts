import type { RelayAccessEvent } from "@drydock/contracts";
import type { FastifyBaseLogger } from "fastify";

import { issuedAtMs, type BrowserConnections } from "./browser-connections.js";
import type { SessionGrant } from "./cookies.js";

/** What a browser whose access was revoked is told (401). */
export const REVOKED_PROBLEM =
  "your access to this session was revoked: ask its owner to share it with you again, then open it from the Drydock console";

type Revocation = { sessionId: string; userId: string; at: string };

/**
 * The revocations in force, by session and person, as the control plane streams them (a snapshot, then each
 * new one). A cookie issued before its person's revocation of its session is refused; a cookie issued after
 * (the person was shared the session again and redeemed a new ticket) passes. Applying a revocation also
 * cuts that person's open connections to the session at once.
 *
 * A cookie records its expiry in whole seconds, so its issue time is known to the second: a cookie issued in
 * the same second as a revocation, before or after it, counts as before (refused; the next ticket works).
 */
export class AccessRegistry {
  /** session → person → when their access was revoked (ms since the epoch). */
  private readonly revoked = new Map<string, Map<string, number>>();

  constructor(
    private readonly cookieTtlSeconds: number,
    private readonly connections: BrowserConnections,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Whether `grant` was issued before a revocation of its person's access to its session. */
  refuses(grant: SessionGrant): boolean {
    // No revocation in force is the common case: one size check per request.
    if (this.revoked.size === 0) return false;
    const at = this.revoked.get(grant.sessionId)?.get(grant.userId);
    return at !== undefined && issuedAtMs(grant, this.cookieTtlSeconds) < at;
  }

  /** A snapshot replaces what was known (it is the whole truth); a revocation adds to it. Both cut connections. */
  apply(event: RelayAccessEvent): void {
    if (event.type === "snapshot") {
      this.revoked.clear();
      for (const revocation of event.revoked) this.record(revocation);
    } else {
      this.record(event);
    }
    this.forgetExpired();
  }

  /** How many revocations are in force (for logs). */
  get size(): number {
    let size = 0;
    for (const people of this.revoked.values()) size += people.size;
    return size;
  }

  private record({ sessionId, userId, at }: Revocation): void {
    const atMs = Date.parse(at);
    let people = this.revoked.get(sessionId);
    if (!people) this.revoked.set(sessionId, (people = new Map<string, number>()));
    people.set(userId, Math.max(atMs, people.get(userId) ?? Number.NEGATIVE_INFINITY));
    const cut = this.connections.cut(sessionId, userId, atMs);
    if (cut > 0) this.log.info({ sessionId, userId, cut }, "access revoked: connections closed");
  }

  /** A revocation older than a cookie's whole life refuses nothing any more: every cookie it could refuse has expired. */
  private forgetExpired(): void {
    const horizon = Date.now() - this.cookieTtlSeconds * 1000;
    for (const [sessionId, people] of this.revoked) {
      for (const [userId, at] of people) if (at < horizon) people.delete(userId);
      if (people.size === 0) this.revoked.delete(sessionId);
    }
  }
}
