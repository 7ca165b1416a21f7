/**
 * Sharing a live session with a teammate until an expiry, revoking it, and telling relays about every
 * revocation (`relay.accessEvents`): a share revoked or expired, or a member who lost the editor role while
 * the project's sessions were live. Relays get the last day's revocations first, then each new one.
 */
import { EventEmitter } from "node:events";

import type { RelayAccessEvent, SessionAccess, SessionShare } from "@drydock/contracts";
import { sql } from "kysely";

import type { Db } from "../db/database.js";
import { ServerErrors } from "../errors.js";
import type { Logger } from "../logger.js";
import { Inbox } from "../services/event-bus.js";
import type { ConnectionRegistry } from "./connections.js";
import type { UserStore } from "./users.js";
import { toUserRef } from "./users.js";

type Revocation = Extract<RelayAccessEvent, { type: "revoked" }>;

/** A relay that restarts learns the revocations of this long ago (a session's cookie never outlives it). */
const SNAPSHOT_HOURS = 24;

/** Shares with the names of the person shared with and of who granted it, as `toShare` reads them. */
function shareRows(db: Db) {
  return db
    .selectFrom("session_shares as s")
    .innerJoin("users as u", "u.id", "s.user_id")
    .innerJoin("users as g", "g.id", "s.granted_by")
    .select([
      "s.user_id",
      "u.name as user_name",
      "s.granted_by",
      "g.name as granter_name",
      "s.created_at",
      "s.expires_at",
      "s.revoked_at",
    ]);
}

/** A timer longer than this is re-armed on firing (setTimeout holds at most ~24.8 days). */
const MAX_TIMER_MS = 3_600_000;

export class ShareService {
  private readonly events = new EventEmitter();
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Shares that expired up to here have been told. */
  private expiredUpTo = new Date();
  private stopped = false;

  constructor(
    private readonly deps: {
      db: Db;
      users: UserStore;
      connections: ConnectionRegistry;
      log: Logger;
    },
  ) {
    this.events.setMaxListeners(0);
  }

  /** Starts telling expiries as they happen. */
  async start(): Promise<void> {
    this.stopped = false;
    this.expiredUpTo = new Date();
    await this.armExpiryTimer();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.expiryTimer);
  }

  /** Lets `userRef` open the live session until `expiresAt` (in the future, and not past the attempt's deadline). */
  async share(
    sessionId: string,
    userRef: string,
    expiresAt: string,
    grantedBy: string,
  ): Promise<SessionShare> {
    const { db } = this.deps;
    const user = await this.deps.users.require(userRef);
    const session = await db
      .selectFrom("interactive_sessions as s")
      .innerJoin("attempts as a", "a.id", "s.attempt_id")
      .select(["s.state", "a.deadline_at", sql<Date>`now()`.as("now")])
      .where("s.id", "=", sessionId)
      .executeTakeFirst();
    if (!session) throw ServerErrors.sessionNotFound(sessionId);
    if (session.state === "ENDED") throw ServerErrors.sessionEnded(sessionId);
    const expiry = new Date(expiresAt);
    if (expiry <= session.now) throw ServerErrors.shareExpiry(`${expiresAt} is not in the future`);
    if (session.deadline_at && expiry > session.deadline_at)
      throw ServerErrors.shareExpiry(
        `the session's attempt ends by ${session.deadline_at.toISOString()}; a share cannot outlive it`,
      );
    const row = await db
      .insertInto("session_shares")
      .values({
        session_id: sessionId,
        user_id: user.id,
        granted_by: grantedBy,
        expires_at: expiry,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await this.armExpiryTimer();
    return this.shareById(row.id);
  }

  /** Ends every live share of the session with `userRef`; the relay is told at once. */
  async revoke(sessionId: string, userRef: string): Promise<SessionShare> {
    const user = await this.deps.users.require(userRef);
    const rows = await this.deps.db
      .updateTable("session_shares")
      .set({ revoked_at: sql<Date>`now()` })
      .where("session_id", "=", sessionId)
      .where("user_id", "=", user.id)
      .where("revoked_at", "is", null)
      .where(sql<boolean>`expires_at > now()`)
      .returning(["id", "revoked_at"])
      .execute();
    const first = rows[0];
    if (!first?.revoked_at) throw ServerErrors.shareNotFound(sessionId, userRef);
    this.tell({ type: "revoked", sessionId, userId: user.id, at: first.revoked_at.toISOString() });
    return this.shareById(first.id);
  }

  /**
   * A member of `project` lost the right to open its sessions (removed, or below editor): the relays close
   * their connections to the project's live sessions. Returns those sessions, for the audit log, which is
   * also where a restarted relay learns of them.
   */
  async memberLostAccess(project: string, userId: string): Promise<string[]> {
    const live = await this.liveSessionsOf(project);
    const at = new Date().toISOString();
    for (const sessionId of live) this.tell({ type: "revoked", sessionId, userId, at });
    return live;
  }

  private async liveSessionsOf(project: string): Promise<string[]> {
    const rows = await this.deps.db
      .selectFrom("interactive_sessions as s")
      .innerJoin("attempts as a", "a.id", "s.attempt_id")
      .innerJoin("executions as x", "x.id", "a.execution_id")
      .select("s.id")
      .where("x.project", "=", project)
      .where("s.state", "<>", "ENDED")
      .execute();
    return rows.map((r) => r.id);
  }

  /** The revocations of the last day, then each new one, until `signal` aborts. */
  async *accessEvents(signal: AbortSignal): AsyncGenerator<RelayAccessEvent> {
    const inbox = new Inbox<Revocation>((push) => {
      this.events.on("revoked", push);
      return () => this.events.off("revoked", push);
    });
    try {
      yield { type: "snapshot", revoked: await this.recentRevocations() };
      while (!signal.aborted) for (const event of await inbox.take(signal)) yield event;
    } finally {
      inbox.close();
    }
  }

  /** Shares revoked or expired, and members who lost access, within the last day. */
  private async recentRevocations(): Promise<RevokedEntry[]> {
    const { db } = this.deps;
    const since = sql<Date>`now() - make_interval(hours => ${SNAPSHOT_HOURS})`;
    const shares = await db
      .selectFrom("session_shares")
      .select(["session_id", "user_id", sql<Date>`coalesce(revoked_at, expires_at)`.as("at")])
      .where((eb) =>
        eb.or([
          eb("revoked_at", ">", since),
          eb.and([
            eb("revoked_at", "is", null),
            eb("expires_at", ">", since),
            eb("expires_at", "<=", sql<Date>`now()`),
          ]),
        ]),
      )
      .execute();
    const members = await db
      .selectFrom("audit_log")
      .select(["at", "detail"])
      .where("action", "=", "project.member_set")
      .where("at", ">", since)
      .execute();
    const fromMembers = members.flatMap((m) => {
      const detail = m.detail as { userId?: unknown; revokedSessions?: unknown };
      if (typeof detail.userId !== "string" || !Array.isArray(detail.revokedSessions)) return [];
      const userId = detail.userId;
      return detail.revokedSessions
        .filter((s): s is string => typeof s === "string")
        .map((sessionId) => ({ sessionId, userId, at: m.at.toISOString() }));
    });
    return [
      ...shares.map((s) => ({
        sessionId: s.session_id,
        userId: s.user_id,
        at: s.at.toISOString(),
      })),
      ...fromMembers,
    ];
  }

  private tell(event: Revocation): void {
    this.deps.log.info(
      { sessionId: event.sessionId, userId: event.userId },
      "IDE access revoked: relays close the user's connections",
    );
    this.events.emit("revoked", event);
  }

  /** Tells the shares that expired since the last look, then waits for the next expiry. */
  private async tellExpiries(): Promise<void> {
    const upTo = new Date();
    const expired = await this.deps.db
      .selectFrom("session_shares")
      .select(["session_id", "user_id", "expires_at"])
      .where("revoked_at", "is", null)
      .where("expires_at", ">", this.expiredUpTo)
      .where("expires_at", "<=", upTo)
      .execute();
    this.expiredUpTo = upTo;
    for (const share of expired)
      this.tell({
        type: "revoked",
        sessionId: share.session_id,
        userId: share.user_id,
        at: share.expires_at.toISOString(),
      });
  }

  /** Sets the timer for the next share to expire (none: no timer). */
  private async armExpiryTimer(): Promise<void> {
    if (this.stopped) return;
    const next = await this.deps.db
      .selectFrom("session_shares")
      .select((eb) => eb.fn.min("expires_at").as("at"))
      .where("revoked_at", "is", null)
      .where("expires_at", ">", this.expiredUpTo)
      .executeTakeFirst();
    clearTimeout(this.expiryTimer);
    if (!next?.at || this.stopped) return;
    const wait = Math.min(Math.max(new Date(next.at).getTime() - Date.now(), 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      void this.tellExpiries()
        .then(() => this.armExpiryTimer())
        .catch((err: unknown) => this.deps.log.error({ err }, "telling expired shares failed"));
    }, wait + 5);
    this.expiryTimer.unref();
  }

  private async shareById(id: string): Promise<SessionShare> {
    const row = await shareRows(this.deps.db).where("s.id", "=", id).executeTakeFirstOrThrow();
    return toShare(row);
  }

  /** Who owns the session, who it is shared with, who opened it, and who is connected now. */
  async access(sessionId: string): Promise<SessionAccess> {
    const { db } = this.deps;
    const owner = await db
      .selectFrom("interactive_sessions as s")
      .innerJoin("attempts as a", "a.id", "s.attempt_id")
      .innerJoin("executions as x", "x.id", "a.execution_id")
      .leftJoin("users as u", "u.id", "x.created_by")
      .select(["u.id", "u.name"])
      .where("s.id", "=", sessionId)
      .executeTakeFirst();
    if (!owner) throw ServerErrors.sessionNotFound(sessionId);
    const shares = await shareRows(db)
      .where("s.session_id", "=", sessionId)
      .orderBy("s.created_at")
      .execute();
    const opens = await db
      .selectFrom("session_opens as o")
      .innerJoin("users as u", "u.id", "o.user_id")
      .select(["o.user_id", "u.name", "o.first_at", "o.last_at", "o.times"])
      .where("o.session_id", "=", sessionId)
      .orderBy("o.first_at")
      .execute();
    return {
      sessionId,
      ...(owner.id && owner.name ? { owner: { id: owner.id, name: owner.name } } : {}),
      shares: shares.map(toShare),
      openedBy: opens.map((o) => ({
        user: toUserRef({ id: o.user_id, name: o.name }),
        firstAt: o.first_at.toISOString(),
        lastAt: o.last_at.toISOString(),
        times: o.times,
      })),
      connected: await this.deps.connections.connected(sessionId),
    };
  }

  /** Someone opened the session's IDE (a ticket was redeemed for them). */
  async opened(sessionId: string, userId: string): Promise<void> {
    await this.deps.db
      .insertInto("session_opens")
      .values({ session_id: sessionId, user_id: userId })
      .onConflict((oc) =>
        oc.columns(["session_id", "user_id"]).doUpdateSet({
          last_at: sql<Date>`now()`,
          times: sql<number>`session_opens.times + 1`,
        }),
      )
      .execute();
  }
}

interface RevokedEntry {
  sessionId: string;
  userId: string;
  at: string;
}

function toShare(row: {
  user_id: string;
  user_name: string;
  granted_by: string;
  granter_name: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}): SessionShare {
  return {
    user: { id: row.user_id, name: row.user_name },
    grantedBy: { id: row.granted_by, name: row.granter_name },
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    ...(row.revoked_at ? { revokedAt: row.revoked_at.toISOString() } : {}),
  };
}
