import { randomBytes } from "node:crypto";

import { sql } from "kysely";
import type { ExpressionBuilder, RawBuilder } from "kysely";

import type {
  ErrorInfo,
  ExtensionProblem,
  InteractiveSession,
  PauseInfo,
  RecordedResumeChoice,
  ResumeChoice,
  SessionEndReason,
  SessionLimit,
} from "@drydock/contracts";
import {
  DEFAULT_MAX_IDLE_SECONDS,
  defaultMaxUnopenedSeconds,
  sessionHost,
  sessionOrigin,
} from "@drydock/contracts";

import type { Db } from "../db/database.js";
import type { Database } from "../db/schema.js";
import type { ServerConfig } from "../env.js";
import { ServerErrors } from "../errors.js";
import type { Logger } from "../logger.js";
import { SESSION_COLUMNS, sessionLimit, toSession } from "./api-objects.js";
import type { EventBus } from "./event-bus.js";
import { newSessionId } from "./ids.js";
import { hashToken } from "./agent-token.js";

/** How long an IDE link stays redeemable: long enough to open it, short enough that a leaked one is dead. */
export const IDE_TICKET_TTL_SECONDS = 60;

/**
 * A READY session whose agent says its tunnel has been down this long is READY no more (back to STARTING: no
 * link), until the relay has it again and says so. Long enough for an agent's reconnect, short enough that
 * nobody is sent to a dead link.
 */
export const TUNNEL_DOWN_UNREADY_MS = 10_000;

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
      /** Where every change of a session is told, as a `session` event of its execution. */
      bus: EventBus;
    },
  ) {}

  /** Tells the session's execution's watchers what the session is now. */
  private async announce(sessionId: string): Promise<void> {
    const row = await this.deps.db
      .selectFrom("interactive_sessions")
      .innerJoin("attempts", "attempts.id", "interactive_sessions.attempt_id")
      .select([...SESSION_COLUMNS, "attempts.execution_id", "attempts.node_id"])
      .where("interactive_sessions.id", "=", sessionId)
      .executeTakeFirst();
    if (row) this.publish(row.execution_id, row.node_id, toSession(row));
  }

  /**
   * The attempt's live session (opened on the first call, returned again after) and where to dial its tunnel.
   * Any running attempt may open one (a pause point opens one for a task that is not interactive). It opens
   * with its deadline `maxUnopenedSeconds` away on the database's clock (nobody has opened its IDE yet), with
   * the first run's error when the task ran first and failed (runTaskFirst), and with where its task's process
   * is paused (post-mortem, a pause point).
   */
  async openSession(
    attemptId: string,
    options: {
      maxIdleSeconds?: number | undefined;
      maxUnopenedSeconds?: number | undefined;
      firstRunError?: ErrorInfo | undefined;
      pause?: PauseInfo | undefined;
    } = {},
  ): Promise<{ sessionId: string; tunnel: { relayUrl: string; host: string } }> {
    const { relayUrl, ideOrigin } = this.relaySettings("relayUrl", "ideOrigin");
    const { sessionId, opened } = await this.deps.db.transaction().execute(async (tx) => {
      // The attempt's row lock orders racing calls, and keeps the attempt from ending mid-way.
      const attempt = await tx
        .selectFrom("attempts")
        .select("status")
        .where("id", "=", attemptId)
        .forUpdate()
        .executeTakeFirst();
      if (!attempt) throw ServerErrors.attemptNotFound(attemptId);
      if (attempt.status !== "RUNNING")
        throw ServerErrors.attemptNotRunning(attemptId, attempt.status);
      const live = await tx
        .selectFrom("interactive_sessions")
        .select("id")
        .where("attempt_id", "=", attemptId)
        .where("state", "<>", "ENDED")
        .executeTakeFirst();
      if (live) return { sessionId: live.id, opened: false };
      const id = newSessionId();
      const maxIdleSeconds = options.maxIdleSeconds ?? DEFAULT_MAX_IDLE_SECONDS;
      const maxUnopenedSeconds =
        options.maxUnopenedSeconds ?? defaultMaxUnopenedSeconds(maxIdleSeconds);
      await tx
        .insertInto("interactive_sessions")
        .values({
          id,
          attempt_id: attemptId,
          state: "STARTING",
          max_idle_seconds: maxIdleSeconds,
          max_unopened_seconds: maxUnopenedSeconds,
          idle_deadline: sql<Date>`now() + make_interval(secs => ${maxUnopenedSeconds})`,
          first_run_error: options.firstRunError ? JSON.stringify(options.firstRunError) : null,
          pause: options.pause ? JSON.stringify(options.pause) : null,
        })
        .execute();
      return { sessionId: id, opened: true };
    });
    if (opened) {
      this.deps.log.info({ sessionId, attemptId }, "opened an interactive session");
      await this.announce(sessionId);
    }
    return { sessionId, tunnel: { relayUrl, host: sessionHost(ideOrigin, sessionId) } };
  }

  /** Throws unless the session exists and has not ended. */
  private async assertOpen(sessionId: string): Promise<void> {
    const session = await this.deps.db
      .selectFrom("interactive_sessions")
      .select("state")
      .where("id", "=", sessionId)
      .executeTakeFirst();
    if (!session) throw ServerErrors.sessionNotFound(sessionId);
    if (session.state === "ENDED") throw ServerErrors.sessionEnded(sessionId);
  }

  /** A link that signs `userId` into the session's IDE once, within `IDE_TICKET_TTL_SECONDS`. */
  async ideTicket(sessionId: string, userId: string): Promise<{ url: string; expiresAt: string }> {
    const { ideOrigin } = this.relaySettings("ideOrigin");
    await this.assertOpen(sessionId);
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
  async redeemTicket(
    sessionId: string,
    ticket: string,
  ): Promise<{ sessionId: string; userId: string }> {
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
      .select([
        "ide_tickets.session_id",
        "ide_tickets.used_at",
        "interactive_sessions.state",
        sql<boolean>`ide_tickets.expires_at <= now()`.as("expired"),
      ])
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

  /**
   * Someone opened the session's IDE (a ticket redeemed and its holder still allowed in): the first time, it
   * is opened, and from now on `max_idle_seconds` without activity ends it; the deadline moves that far on.
   */
  async opened(sessionId: string): Promise<void> {
    const row = await this.deps.db
      .updateTable("interactive_sessions")
      .set({
        opened_at: sql<Date>`coalesce(opened_at, now())`,
        idle_deadline: sql<Date>`now() + make_interval(secs => max_idle_seconds)`,
      })
      .where("id", "=", sessionId)
      .where("state", "<>", "ENDED")
      .returning("id")
      .executeTakeFirst();
    if (row) await this.announce(sessionId);
  }

  /** May the agent holding `agentToken` carry `sessionId`'s tunnel? Only its own attempt's, while both are live. */
  async authorizeTunnel(
    sessionId: string,
    agentToken: string,
  ): Promise<{ sessionId: string; attemptId: string }> {
    const { db } = this.deps;
    const attempt = await db
      .selectFrom("attempts")
      .select(["id", "status"])
      .where("token_hash", "=", hashToken(agentToken))
      .executeTakeFirst();
    if (!attempt) throw ServerErrors.tunnelTokenUnknown();
    const session = await db
      .selectFrom("interactive_sessions")
      .select(["attempt_id", "state"])
      .where("id", "=", sessionId)
      .executeTakeFirst();
    if (!session) throw ServerErrors.sessionNotFound(sessionId);
    if (session.attempt_id !== attempt.id) throw ServerErrors.tunnelWrongAttempt(sessionId);
    if (attempt.status !== "RUNNING")
      throw ServerErrors.tunnelAttemptNotRunning(attempt.id, attempt.status);
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
      await this.announce(sessionId);
      return;
    }
    await this.assertOpen(sessionId);
  }

  /**
   * The attempt's live session ended, and why; its tunnel and tickets stop working. Nothing to end is fine.
   * A first-run error given at opening stays unless this call brings one. `resume` is how the agent resumed
   * it (the IDE's commands, the debugger), recorded on the attempt unless a choice is recorded there already
   * (one asked for through the server). Answers the choice the attempt was resumed with, if any.
   */
  async endSession(
    attemptId: string,
    reason: SessionEndReason,
    error?: ErrorInfo,
    resume?: { choice: RecordedResumeChoice; by: string },
  ): Promise<{ resumeChoice?: RecordedResumeChoice }> {
    const { db } = this.deps;
    const ended = await db
      .updateTable("interactive_sessions")
      .set({
        state: "ENDED",
        end_reason: reason,
        ...(error ? { first_run_error: JSON.stringify(error) } : {}),
        ended_at: sql`now()`,
      })
      .where("attempt_id", "=", attemptId)
      .where("state", "<>", "ENDED")
      .returning("id")
      .executeTakeFirst();
    if (resume) {
      const record = { ...resume, at: new Date().toISOString() };
      await db
        .updateTable("attempts")
        .set({ resume: JSON.stringify(record) })
        .where("id", "=", attemptId)
        .where("resume", "is", null)
        .execute();
    }
    if (ended) {
      this.deps.log.info({ sessionId: ended.id, attemptId, reason }, "interactive session ended");
      await this.announce(ended.id);
    }
    const recorded = await db
      .selectFrom("attempts")
      .select("resume")
      .where("id", "=", attemptId)
      .executeTakeFirst();
    return recorded?.resume ? { resumeChoice: recorded.resume.choice } : {};
  }

  /**
   * The agent's heartbeat, for its attempt's live session: `opened` (a browser signed in through the task's
   * pinned local port) opens the session as a redeemed ticket does; `active` (traffic, the editor's heartbeat)
   * then moves its deadline to a full `max_idle_seconds` from now — but not before someone opened it: the
   * relay's readiness probe is traffic too, and a session nobody opened keeps its `max_unopened_seconds`. Answers what the agent must act on: the time left (the database's clock, so
   * the agent's clock does not matter; ≤ 0 once it passed), which limit that is, and whether (and how) a user
   * asked to resume. Undefined when the attempt has no live session. One query, and one more to tell watchers
   * when the deadline moved: this runs every 2 s.
   */
  async heartbeat(
    attemptId: string,
    active: boolean,
    tunnelDownMs = 0,
    opened = false,
  ): Promise<
    | {
        idleRemainingMs: number;
        idleDeadline: string;
        limit: SessionLimit;
        resumeRequested: boolean;
        resumeChoice?: ResumeChoice;
      }
    | undefined
  > {
    const { db } = this.deps;
    const answer = [
      "id",
      "idle_deadline",
      "opened_at",
      "resume_requested_at",
      "resume_choice",
      sql<number | null>`extract(epoch from idle_deadline - now())::float8 * 1000`.as(
        "remaining_ms",
      ),
    ] as const;
    const row =
      active || opened
        ? await db
            .updateTable("interactive_sessions")
            .set({
              ...(opened ? { opened_at: sql<Date>`coalesce(opened_at, now())` } : {}),
              idle_deadline: opened
                ? sql<Date>`now() + make_interval(secs => max_idle_seconds)`
                : sql<Date>`case when opened_at is null then idle_deadline else now() + make_interval(secs => max_idle_seconds) end`,
            })
            .where("attempt_id", "=", attemptId)
            .where("state", "<>", "ENDED")
            .returning(answer)
            .executeTakeFirst()
        : await db
            .selectFrom("interactive_sessions")
            .select(answer)
            .where("attempt_id", "=", attemptId)
            .where("state", "<>", "ENDED")
            .executeTakeFirst();
    if (!row?.idle_deadline || row.remaining_ms === null) return undefined;
    const unready =
      tunnelDownMs >= TUNNEL_DOWN_UNREADY_MS && (await this.unready(row.id, tunnelDownMs));
    // The deadline moved, or the link went: the console follows.
    if (active || unready) await this.announce(row.id);
    const requested = row.resume_requested_at !== null;
    return {
      idleRemainingMs: Math.round(row.remaining_ms),
      idleDeadline: row.idle_deadline.toISOString(),
      limit: sessionLimit(row.opened_at),
      resumeRequested: requested,
      // A request from before choices existed is for the edited code.
      ...(requested ? { resumeChoice: (row.resume_choice ?? "edited") as ResumeChoice } : {}),
    };
  }

  /** READY → STARTING: the session's tunnel is gone (the relay's `sessionReady` brings it back). True if it changed. */
  private async unready(sessionId: string, tunnelDownMs: number): Promise<boolean> {
    const changed = await this.deps.db
      .updateTable("interactive_sessions")
      .set({ state: "STARTING" })
      .where("id", "=", sessionId)
      .where("state", "=", "READY")
      .returning("id")
      .executeTakeFirst();
    if (changed)
      this.deps.log.warn(
        { sessionId, tunnelDownMs },
        "the session's tunnel is down: it is not READY until the relay has it again",
      );
    return changed !== undefined;
  }

  /**
   * What the agent learnt: extension problems, the IDE's edits so far, where its task's process is paused
   * (`null` once it is no longer). Goes to the attempt's latest session, also once it ended (the agent saves
   * its final edits right after ending it).
   */
  async updateSession(
    attemptId: string,
    update: {
      extensionProblems?: ExtensionProblem[] | undefined;
      changes?: string | undefined;
      pause?: PauseInfo | null | undefined;
    },
  ): Promise<void> {
    const { db } = this.deps;
    const latest = db
      .selectFrom("interactive_sessions")
      .select("id")
      .where("attempt_id", "=", attemptId)
      .orderBy("created_at", "desc")
      .limit(1);
    const set = {
      ...(update.extensionProblems
        ? { extension_problems: JSON.stringify(update.extensionProblems) }
        : {}),
      ...(update.changes !== undefined
        ? { changes: update.changes, changes_at: sql<Date>`now()` }
        : {}),
      ...(update.pause !== undefined
        ? { pause: update.pause === null ? null : JSON.stringify(update.pause) }
        : {}),
    };
    const row =
      Object.keys(set).length > 0
        ? await db
            .updateTable("interactive_sessions")
            .set(set)
            .where("id", "=", latest)
            .returning("id")
            .executeTakeFirst()
        : await latest.executeTakeFirst();
    if (!row) throw ServerErrors.attemptHasNoSession(attemptId);
    await this.announce(row.id);
  }

  /**
   * `by` (a user's e-mail, else id) asks the node's live session to resume with `choice`; the agent sees it at
   * its next heartbeat. The choice is recorded on the attempt. `original` and `fail` need a paused task (there
   * is an original error to end with, or a process to continue); once a choice was asked, asking it again
   * changes nothing and asking another is refused.
   */
  async resume(
    executionId: string,
    nodeId: string,
    choice: ResumeChoice = "edited",
    by = "unknown",
  ): Promise<InteractiveSession> {
    const asked = await this.deps.db.transaction().execute(async (tx) => {
      // The session's row lock orders racing requests: one choice wins, the others see it.
      const live = await tx
        .selectFrom("interactive_sessions")
        .select(["id", "attempt_id", "resume_requested_at", "resume_choice", "pause"])
        .where("state", "<>", "ENDED")
        .where("attempt_id", "=", latestAttemptOf(executionId, nodeId))
        .forUpdate()
        .executeTakeFirst();
      if (!live) return undefined;
      if (live.resume_requested_at !== null) {
        const taken = (live.resume_choice ?? "edited") as ResumeChoice;
        if (taken !== choice)
          throw ServerErrors.resumeChoiceTaken(executionId, nodeId, taken, choice);
        return { id: live.id, changed: false };
      }
      if (choice !== "edited" && live.pause === null)
        throw ServerErrors.sessionNotPaused(executionId, nodeId, choice);
      const { resume_requested_at: at } = await tx
        .updateTable("interactive_sessions")
        .set({ resume_requested_at: sql<Date>`now()`, resume_choice: choice })
        .where("id", "=", live.id)
        .returning("resume_requested_at")
        .executeTakeFirstOrThrow();
      const record = { choice, by, at: (at ?? new Date()).toISOString() };
      await tx
        .updateTable("attempts")
        .set({ resume: JSON.stringify(record) })
        .where("id", "=", live.attempt_id)
        .where("resume", "is", null)
        .execute();
      return { id: live.id, changed: true };
    });
    if (!asked)
      throw ServerErrors.noLiveSession(
        executionId,
        nodeId,
        whyNoLiveSession(await this.nodeState(executionId, nodeId)),
      );
    const session = await this.publishSession(executionId, nodeId, asked.id);
    if (asked.changed)
      this.deps.log.info(
        { sessionId: session.id, executionId, nodeId, choice, by },
        "a user asked the interactive session to resume",
      );
    return session;
  }

  /**
   * Postpones the node's live session's end by the limit that applies from now (never earlier than it was):
   * `max_unopened_seconds` while nobody has opened its IDE, `max_idle_seconds` once someone has.
   */
  keepAlive(executionId: string, nodeId: string): Promise<InteractiveSession> {
    return this.updateLiveSession(executionId, nodeId, {
      idle_deadline: sql<Date>`greatest(idle_deadline, now() + make_interval(secs =>
        CASE WHEN opened_at IS NULL THEN max_unopened_seconds ELSE max_idle_seconds END))`,
    });
  }

  /** The session as users see it, told to the execution's watchers. */
  private async publishSession(
    executionId: string,
    nodeId: string,
    sessionId: string,
  ): Promise<InteractiveSession> {
    const row = await this.deps.db
      .selectFrom("interactive_sessions")
      .select(SESSION_COLUMNS)
      .where("id", "=", sessionId)
      .executeTakeFirstOrThrow();
    return this.publish(executionId, nodeId, toSession(row));
  }

  /** Tells the execution's watchers the session as it is now; returns it. */
  private publish(
    executionId: string,
    nodeId: string,
    session: InteractiveSession,
  ): InteractiveSession {
    this.deps.bus.publish(executionId, {
      type: "session",
      executionId,
      nodeId,
      attemptId: session.attemptId,
      session,
    });
    return session;
  }

  /** The IDE's edits in the node's latest session (of any attempt, live or ended), as a unified diff. */
  async changes(
    executionId: string,
    nodeId: string,
  ): Promise<{ sessionId: string; patch: string; savedAt?: string }> {
    const latest = await this.latestChanges(executionId, nodeId, false);
    if (latest) return latest;
    const node = await this.nodeState(executionId, nodeId);
    const why =
      node.fanOut ??
      (node.attempt
        ? `its latest attempt is ${node.attempt.status} and opened none`
        : `it is ${node.status} and has not run`);
    throw ServerErrors.noSession(executionId, nodeId, why);
  }

  /**
   * The edits of the node's latest session that saved any (`fork` builds on them), or undefined when none
   * did; unknown executions and nodes are refused as `changes` refuses them.
   */
  async editedChanges(
    executionId: string,
    nodeId: string,
  ): Promise<{ sessionId: string; patch: string; savedAt?: string } | undefined> {
    const latest = await this.latestChanges(executionId, nodeId, true);
    if (latest) return latest;
    await this.nodeState(executionId, nodeId);
    return undefined;
  }

  /** The node's latest session (with edits, when `edited`) and its patch, newest attempt first. */
  private async latestChanges(executionId: string, nodeId: string, edited: boolean) {
    let query = this.deps.db
      .selectFrom("interactive_sessions as s")
      .innerJoin("attempts as a", "a.id", "s.attempt_id")
      .select(["s.id", "s.changes", "s.changes_at"])
      .where("a.execution_id", "=", executionId)
      .where("a.node_id", "=", nodeId);
    if (edited) query = query.where(sql<boolean>`coalesce(s.changes, '') <> ''`);
    const row = await query
      .orderBy("a.number", "desc")
      .orderBy("s.created_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return row
      ? {
          sessionId: row.id,
          patch: row.changes ?? "",
          ...(row.changes_at ? { savedAt: row.changes_at.toISOString() } : {}),
        }
      : undefined;
  }

  /** One UPDATE of the live session of the node's latest attempt; when there is none, says why. */
  private async updateLiveSession(
    executionId: string,
    nodeId: string,
    set: { idle_deadline: RawBuilder<Date> },
  ): Promise<InteractiveSession> {
    const row = await this.deps.db
      .updateTable("interactive_sessions")
      .set(set)
      .where("state", "<>", "ENDED")
      .where("attempt_id", "=", latestAttemptOf(executionId, nodeId))
      .returning(SESSION_COLUMNS)
      .executeTakeFirst();
    if (row) return this.publish(executionId, nodeId, toSession(row));
    throw ServerErrors.noLiveSession(
      executionId,
      nodeId,
      whyNoLiveSession(await this.nodeState(executionId, nodeId)),
    );
  }

  /**
   * A node as far as its sessions go, for refusals: its status, its latest attempt and how that attempt's
   * latest session ended; a fan-out says to name an element. Unknown executions and nodes are NOT_FOUND.
   */
  private async nodeState(executionId: string, nodeId: string): Promise<NodeSessionState> {
    const { db } = this.deps;
    const node = await db
      .selectFrom("node_executions")
      .select(["status", "children_total"])
      .where("execution_id", "=", executionId)
      .where("node_id", "=", nodeId)
      .executeTakeFirst();
    if (!node) {
      const execution = await db
        .selectFrom("executions")
        .select("id")
        .where("id", "=", executionId)
        .executeTakeFirst();
      throw execution
        ? ServerErrors.nodeNotFound(executionId, nodeId)
        : ServerErrors.executionNotFound(executionId);
    }
    const attempt = await db
      .selectFrom("attempts")
      .select([
        "status",
        (eb) =>
          eb
            .selectFrom("interactive_sessions")
            .select("end_reason")
            .whereRef("interactive_sessions.attempt_id", "=", "attempts.id")
            .where("interactive_sessions.state", "=", "ENDED")
            .orderBy("interactive_sessions.created_at", "desc")
            .limit(1)
            .as("session_ended"),
      ])
      .where("execution_id", "=", executionId)
      .where("node_id", "=", nodeId)
      .orderBy("number", "desc")
      .limit(1)
      .executeTakeFirst();
    return {
      status: node.status,
      fanOut:
        node.children_total === null
          ? undefined
          : `it is a fan-out; name one of its elements, e.g. "${nodeId}[0]"`,
      attempt: attempt
        ? { status: attempt.status, sessionEnded: attempt.session_ended ?? undefined }
        : undefined,
    };
  }

  private relaySettings<K extends keyof typeof SETTING>(...keys: K[]): Record<K, string> {
    const missing = keys.filter((k) => !this.deps.relay[k]);
    if (missing.length > 0) throw ServerErrors.relayNotConfigured(missing.map((k) => SETTING[k]));
    return Object.fromEntries(keys.map((k) => [k, this.deps.relay[k]])) as Record<K, string>;
  }
}

/** The id of the node's latest attempt, as a subquery: its live session is the node's. */
function latestAttemptOf(executionId: string, nodeId: string) {
  return (eb: ExpressionBuilder<Database, "interactive_sessions">) =>
    eb
      .selectFrom("attempts")
      .select("attempts.id")
      .where("attempts.execution_id", "=", executionId)
      .where("attempts.node_id", "=", nodeId)
      .orderBy("attempts.number", "desc")
      .limit(1);
}

interface NodeSessionState {
  status: string;
  /** Set on a fan-out: what to say instead (its elements have the sessions). */
  fanOut: string | undefined;
  attempt: { status: string; sessionEnded: string | undefined } | undefined;
}

function whyNoLiveSession(node: NodeSessionState): string {
  if (node.fanOut) return node.fanOut;
  if (!node.attempt) return `it is ${node.status} and has not started`;
  const { status, sessionEnded } = node.attempt;
  if (sessionEnded) return `its latest attempt is ${status}; its session ended: ${sessionEnded}`;
  if (status === "QUEUED" || status === "RUNNING")
    return `its latest attempt is ${status} and has not opened one`;
  return `its latest attempt is ${status}`;
}
