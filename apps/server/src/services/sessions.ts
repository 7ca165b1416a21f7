import { randomBytes } from "node:crypto";

import { sql } from "kysely";

import type { ErrorInfo, SessionEndReason } from "@drydock/contracts";

import type { Db } from "../db/database.js";
import type { ServerConfig } from "../env.js";
import { ServerErrors } from "../errors.js";
import type { Logger } from "../logger.js";
import { newSessionId } from "./ids.js";
import { hashToken } from "./scheduler.js";

/** How long an IDE link stays redeemable: long enough to open it, short enough that a leaked one is dead. */
export const IDE_TICKET_TTL_SECONDS = 60;

const SETTING = {
  relayUrl: "DRYDOCK_RELAY_URL (relayUrl)",
  ideOrigin: "DRYDOCK_IDE_ORIGIN (ideOrigin)",
} as const;

/**
 * Interactive sessions and who may reach them: the agent of a running attempt opens its session and
 * carries its tunnel; a user gets a short-lived, single-use ticket into its IDE, which the relay spends.
 * Every refusal is an `AppError` with its own code.
 */
export class SessionService {
  constructor(
    private readonly deps: {
      db: Db;
      log: Logger;
      relay: Pick<ServerConfig, "relayUrl" | "ideOrigin">;
    },
  ) {}

  /** The attempt's live session (opened on the first call, returned again after) and where to dial its tunnel. */
  async openSession(attemptId: string): Promise<{ sessionId: string; tunnel: { relayUrl: string; host: string } }> {
    const { relayUrl, ideOrigin } = this.relaySettings("relayUrl", "ideOrigin");
    const { sessionId, opened } = await this.deps.db.transaction().execute(async (tx) => {
      // The attempt's row lock orders racing calls, and keeps the attempt from ending mid-way.
      const attempt = await tx.selectFrom("attempts").select("status").where("id", "=", attemptId).forUpdate().executeTakeFirst();
      if (!attempt) throw ServerErrors.attemptNotFound(attemptId);
      if (attempt.status !== "RUNNING") throw ServerErrors.attemptNotRunning(attemptId, attempt.status);
      const live = await tx
        .selectFrom("interactive_sessions")
        .select("id")
        .where("attempt_id", "=", attemptId)
        .where("state", "<>", "ENDED")
        .executeTakeFirst();
      if (live) return { sessionId: live.id, opened: false };
      const id = newSessionId();
      await tx.insertInto("interactive_sessions").values({ id, attempt_id: attemptId, state: "STARTING" }).execute();
      return { sessionId: id, opened: true };
    });
    if (opened) this.deps.log.info({ sessionId, attemptId }, "opened an interactive session");
    return { sessionId, tunnel: { relayUrl, host: sessionHost(ideOrigin, sessionId) } };
  }

  /** A link that signs `userId` into the session's IDE once, within `IDE_TICKET_TTL_SECONDS`. */
  async ideTicket(sessionId: string, userId: string): Promise<{ url: string; expiresAt: string }> {
    const { ideOrigin } = this.relaySettings("ideOrigin");
    const session = await this.deps.db.selectFrom("interactive_sessions").select("state").where("id", "=", sessionId).executeTakeFirst();
    if (!session) throw ServerErrors.sessionNotFound(sessionId);
    if (session.state === "ENDED") throw ServerErrors.sessionEnded(sessionId);
    const ticket = randomBytes(32).toString("base64url");
    // Expiry is the database's clock, like the check that spends it.
    const { expires_at } = await this.deps.db
      .insertInto("ide_tickets")
      .values({
        token_hash: hashToken(ticket),
        session_id: sessionId,
        user_id: userId,
        expires_at: sql<Date>`now() + make_interval(secs => ${IDE_TICKET_TTL_SECONDS})`,
      })
      .returning("expires_at")
      .executeTakeFirstOrThrow();
    const url = new URL("/__drydock/redeem", sessionOrigin(ideOrigin, sessionId));
    url.searchParams.set("ticket", ticket);
    return { url: url.toString(), expiresAt: expires_at.toISOString() };
  }

  /**
   * Spends a ticket for `sessionId`, once. Only a ticket that is valid in every respect is spent (one
   * conditional UPDATE), so a ticket shown to the wrong session stays usable for its own; the reason for a
   * refusal is looked up afterwards.
   */
  async redeemTicket(sessionId: string, ticket: string): Promise<{ sessionId: string; userId: string }> {
    const { db } = this.deps;
    const hash = hashToken(ticket);
    const spent = await db
      .updateTable("ide_tickets")
      .set({ used_at: sql<Date>`now()` })
      .where("token_hash", "=", hash)
      .where("session_id", "=", sessionId)
      .where("used_at", "is", null)
      .where(sql<boolean>`expires_at > now()`)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom("interactive_sessions")
            .select("interactive_sessions.id")
            .whereRef("interactive_sessions.id", "=", "ide_tickets.session_id")
            .where("interactive_sessions.state", "<>", "ENDED"),
        ),
      )
      .returning(["session_id", "user_id"])
      .executeTakeFirst();
    if (spent) {
      this.deps.log.info({ sessionId, userId: spent.user_id }, "redeemed an IDE ticket");
      return { sessionId: spent.session_id, userId: spent.user_id };
    }

    const why = await db
      .selectFrom("ide_tickets")
      .innerJoin("interactive_sessions", "interactive_sessions.id", "ide_tickets.session_id")
      .select(["ide_tickets.session_id", "ide_tickets.used_at", "interactive_sessions.state", sql<boolean>`ide_tickets.expires_at <= now()`.as("expired")])
      .where("ide_tickets.token_hash", "=", hash)
      .executeTakeFirst();
    if (!why) throw ServerErrors.ticketUnknown();
    if (why.session_id !== sessionId) throw ServerErrors.ticketWrongSession(sessionId);
    if (why.used_at !== null) throw ServerErrors.ticketUsed();
    if (why.expired) throw ServerErrors.ticketExpired();
    if (why.state === "ENDED") throw ServerErrors.ticketSessionEnded(sessionId);
    // Expiry, use and ending only ever move one way, so the UPDATE cannot have missed a valid ticket.
    throw new Error(`IDE ticket for session "${sessionId}" was neither spent nor refused`);
  }

  /** May the agent holding `agentToken` carry `sessionId`'s tunnel? Only its own attempt's, while both are live. */
  async authorizeTunnel(sessionId: string, agentToken: string): Promise<{ sessionId: string; attemptId: string }> {
    const { db } = this.deps;
    const attempt = await db.selectFrom("attempts").select(["id", "status"]).where("token_hash", "=", hashToken(agentToken)).executeTakeFirst();
    if (!attempt) throw ServerErrors.tunnelTokenUnknown();
    const session = await db.selectFrom("interactive_sessions").select(["attempt_id", "state"]).where("id", "=", sessionId).executeTakeFirst();
    if (!session) throw ServerErrors.sessionNotFound(sessionId);
    if (session.attempt_id !== attempt.id) throw ServerErrors.tunnelWrongAttempt(sessionId);
    if (attempt.status !== "RUNNING") throw ServerErrors.tunnelAttemptNotRunning(attempt.id, attempt.status);
    if (session.state === "ENDED") throw ServerErrors.tunnelSessionEnded(sessionId);
    return { sessionId, attemptId: attempt.id };
  }

  /**
   * The session's IDE answered through the relay: STARTING → READY, with its origin as the link. Only from
   * then on does the session show a link. Saying it again is harmless; an ended session stays ended.
   */
  async markReady(sessionId: string): Promise<void> {
    const { ideOrigin } = this.relaySettings("ideOrigin");
    const link = `${sessionOrigin(ideOrigin, sessionId)}/`;
    const updated = await this.deps.db
      .updateTable("interactive_sessions")
      .set({ state: "READY", link })
      .where("id", "=", sessionId)
      .where("state", "=", "STARTING")
      .returning("id")
      .executeTakeFirst();
    if (updated) {
      this.deps.log.info({ sessionId }, "interactive session is ready");
      return;
    }
    const session = await this.deps.db.selectFrom("interactive_sessions").select("state").where("id", "=", sessionId).executeTakeFirst();
    if (!session) throw ServerErrors.sessionNotFound(sessionId);
    if (session.state === "ENDED") throw ServerErrors.sessionEnded(sessionId);
  }

  /** The attempt's live session ended, and why; its tunnel and tickets stop working. Nothing to end is fine. */
  async endSession(attemptId: string, reason: SessionEndReason, error?: ErrorInfo): Promise<void> {
    const ended = await this.deps.db
      .updateTable("interactive_sessions")
      .set({ state: "ENDED", end_reason: reason, first_run_error: error ? JSON.stringify(error) : null, ended_at: sql`now()` })
      .where("attempt_id", "=", attemptId)
      .where("state", "<>", "ENDED")
      .returning("id")
      .executeTakeFirst();
    if (ended) this.deps.log.info({ sessionId: ended.id, attemptId, reason }, "interactive session ended");
  }

  private relaySettings<K extends keyof typeof SETTING>(...keys: K[]): Record<K, string> {
    const missing = keys.filter((k) => !this.deps.relay[k]);
    if (missing.length > 0) throw ServerErrors.relayNotConfigured(missing.map((k) => SETTING[k]));
    return Object.fromEntries(keys.map((k) => [k, this.deps.relay[k]])) as Record<K, string>;
  }
}

/** `http://localhost:8081` + `s1` → `s1.localhost:8081`: the session's own host, port included. */
export function sessionHost(ideOrigin: string, sessionId: string): string {
  return `${sessionId}.${new URL(ideOrigin).host}`;
}

/** `http://localhost:8081` + `s1` → `http://s1.localhost:8081`. */
export function sessionOrigin(ideOrigin: string, sessionId: string): string {
  return `${new URL(ideOrigin).protocol}//${sessionHost(ideOrigin, sessionId)}`;
}
