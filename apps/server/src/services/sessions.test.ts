import { createHash, randomBytes } from "node:crypto";

import {
  DEFAULT_MAX_IDLE_SECONDS,
  defaultMaxUnopenedSeconds,
  InteractiveSessionSchema,
} from "@drydock/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { testDatabase } from "../__tests__/postgres.js";
import type { Db } from "../db/database.js";
import { createLogger } from "../logger.js";
import { EventBus } from "./event-bus.js";
import { hashToken } from "./agent-token.js";
import { SessionService, TUNNEL_DOWN_UNREADY_MS } from "./sessions.js";

const RELAY_URL = "http://127.0.0.1:8081";
const IDE_ORIGIN = "http://localhost:8081";

let pg: Awaited<ReturnType<typeof testDatabase>>;
let db: Db;
let sessions: SessionService;
let seq = 0;
const bus = new EventBus();

beforeAll(async () => {
  pg = await testDatabase();
  db = pg.db;
  sessions = new SessionService({
    db,
    log: createLogger("silent"),
    relay: { relayUrl: RELAY_URL, ideOrigin: IDE_ORIGIN },
    bus,
  });
});
afterAll(async () => {
  await pg.close();
});

/** An execution with one attempt in `status`, holding an agent token as the scheduler would hand it out. */
async function attempt(status = "RUNNING"): Promise<{ attemptId: string; token: string }> {
  const executionId = `x${++seq}`;
  const attemptId = `${executionId}.n0.a1`;
  const token = randomBytes(24).toString("base64url");
  await db
    .insertInto("executions")
    .values({
      id: executionId,
      project: "default",
      workflow: "wf",
      version: "v1",
      status: "RUNNING",
      inputs: "{}",
    })
    .execute();
  await db
    .insertInto("node_executions")
    .values({ execution_id: executionId, node_id: "n0", task: "t", status: "RUNNING" })
    .execute();
  await db
    .insertInto("attempts")
    .values({
      id: attemptId,
      execution_id: executionId,
      node_id: "n0",
      number: 1,
      status,
      token_hash: hashToken(token),
    })
    .execute();
  return { attemptId, token };
}

async function endSession(sessionId: string) {
  await db
    .updateTable("interactive_sessions")
    .set({ state: "ENDED", ended_at: new Date() })
    .where("id", "=", sessionId)
    .execute();
}

async function setAttemptStatus(attemptId: string, status: string) {
  await db.updateTable("attempts").set({ status }).where("id", "=", attemptId).execute();
}

/** Opens all of the pool's connections, so that racing calls really run side by side (not one by one). */
async function openPoolConnections() {
  await Promise.all(Array.from({ length: 10 }, () => sql`SELECT pg_sleep(0.05)`.execute(db)));
}

const ticketOf = (url: string) => new URL(url).searchParams.get("ticket") ?? "";

/** An AppError with this code and transport kind, whose message says `says`. */
const refusal = (code: string, kind: string, says: string | RegExp) => ({
  name: "AppError",
  code,
  kind,
  message: (typeof says === "string"
    ? expect.stringContaining(says)
    : expect.stringMatching(says)) as string,
});

describe("SessionService.openSession", () => {
  it("opens one STARTING session per running attempt, returns it again (also to racing calls), and names the tunnel's host", async () => {
    const { attemptId } = await attempt();
    const first = await sessions.openSession(attemptId);
    expect(first.sessionId).toMatch(/^s[a-z0-9]{15}$/);
    expect(first.tunnel).toEqual({
      relayUrl: RELAY_URL,
      host: `${first.sessionId}.localhost:8081`,
    });
    expect(await sessions.openSession(attemptId)).toEqual(first);

    const racing = await attempt();
    await openPoolConnections();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => sessions.openSession(racing.attemptId)),
    );
    expect(new Set(answers.map((a) => a.sessionId)).size).toBe(1);
    expect(answers[0]?.sessionId).not.toBe(first.sessionId);

    const rows = await db
      .selectFrom("interactive_sessions")
      .select(["id", "state"])
      .where("attempt_id", "in", [attemptId, racing.attemptId])
      .orderBy("created_at")
      .execute();
    expect(rows).toEqual([
      { id: first.sessionId, state: "STARTING" },
      { id: answers[0]?.sessionId, state: "STARTING" },
    ]);
  });

  it("opens a new session once the attempt's previous one has ended", async () => {
    const { attemptId } = await attempt();
    const first = await sessions.openSession(attemptId);
    await endSession(first.sessionId);
    const second = await sessions.openSession(attemptId);
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(await sessions.openSession(attemptId)).toEqual(second);
  });

  it("refuses an attempt that is not running, and opens nothing", async () => {
    for (const status of ["QUEUED", "SUCCEEDED", "FAILED"]) {
      const { attemptId } = await attempt(status);
      await expect(sessions.openSession(attemptId)).rejects.toMatchObject(
        refusal(
          "ATTEMPT_NOT_RUNNING",
          "CONFLICT",
          `attempt "${attemptId}" is ${status}, not RUNNING`,
        ),
      );
      expect(
        await db
          .selectFrom("interactive_sessions")
          .select("id")
          .where("attempt_id", "=", attemptId)
          .execute(),
      ).toEqual([]);
    }
    await expect(sessions.openSession("x0.n0.a1")).rejects.toMatchObject({
      code: "ATTEMPT_NOT_FOUND",
      kind: "NOT_FOUND",
    });
  });

  it("without a relay configured, refuses sessions and tickets, naming the missing settings", async () => {
    const { attemptId } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId);
    const unconfigured = new SessionService({ db, log: createLogger("silent"), relay: {}, bus });
    await expect(unconfigured.openSession(attemptId)).rejects.toMatchObject(
      refusal(
        "RELAY_NOT_CONFIGURED",
        "PRECONDITION_FAILED",
        "no DRYDOCK_RELAY_URL (relayUrl) and no DRYDOCK_IDE_ORIGIN (ideOrigin) configured",
      ),
    );
    await expect(unconfigured.ideTicket(sessionId, "local")).rejects.toMatchObject(
      refusal(
        "RELAY_NOT_CONFIGURED",
        "PRECONDITION_FAILED",
        /has no DRYDOCK_IDE_ORIGIN \(ideOrigin\) configured$/,
      ),
    );
    const noOrigin = new SessionService({
      db,
      log: createLogger("silent"),
      relay: { relayUrl: RELAY_URL },
      bus,
    });
    await expect(noOrigin.openSession(attemptId)).rejects.toMatchObject(
      refusal(
        "RELAY_NOT_CONFIGURED",
        "PRECONDITION_FAILED",
        /has no DRYDOCK_IDE_ORIGIN \(ideOrigin\) configured$/,
      ),
    );
  });
});

describe("SessionService.ideTicket and redeemTicket", () => {
  async function openSession() {
    const { attemptId } = await attempt();
    return (await sessions.openSession(attemptId)).sessionId;
  }

  it("issues a link on the session's own origin that expires in 60 s, keeps only its hash, and redeems once for the user", async () => {
    const sessionId = await openSession();
    const before = Date.now();
    const { url, expiresAt } = await sessions.ideTicket(sessionId, "local");
    const link = new URL(url);
    expect(link.origin).toBe(`http://${sessionId}.localhost:8081`);
    expect(link.pathname).toBe("/__drydock/redeem");
    const ticket = ticketOf(url);
    expect(Buffer.from(ticket, "base64url")).toHaveLength(32);
    const expiresIn = Date.parse(expiresAt) - before;
    expect(expiresIn).toBeGreaterThan(55_000);
    expect(expiresIn).toBeLessThan(65_000);

    const stored = await db
      .selectFrom("ide_tickets")
      .selectAll()
      .where("session_id", "=", sessionId)
      .execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      token_hash: createHash("sha256").update(ticket).digest("hex"),
      user_id: "local",
      used_at: null,
    });
    expect(JSON.stringify(stored)).not.toContain(ticket);

    expect(await sessions.redeemTicket(sessionId, ticket)).toEqual({ sessionId, userId: "local" });
    const spent = await db
      .selectFrom("ide_tickets")
      .select("used_at")
      .where("session_id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(spent.used_at).toBeInstanceOf(Date);
  });

  it("refuses a ticket for an unknown or ended session", async () => {
    await expect(sessions.ideTicket("snosuchsession00", "local")).rejects.toMatchObject(
      refusal(
        "SESSION_NOT_FOUND",
        "NOT_FOUND",
        `interactive session "snosuchsession00" does not exist`,
      ),
    );
    const sessionId = await openSession();
    await endSession(sessionId);
    await expect(sessions.ideTicket(sessionId, "local")).rejects.toMatchObject(
      refusal("SESSION_ENDED", "CONFLICT", "has ended"),
    );
  });

  it("refuses an unknown ticket", async () => {
    const sessionId = await openSession();
    await sessions.ideTicket(sessionId, "local");
    await expect(
      sessions.redeemTicket(sessionId, randomBytes(32).toString("base64url")),
    ).rejects.toMatchObject(
      refusal("RELAY_TICKET_UNKNOWN", "UNAUTHORIZED", "not one the control plane issued"),
    );
  });

  it("refuses a ticket shown to another session without spending it: it still opens its own", async () => {
    const own = await openSession();
    const other = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(own, "local")).url);
    await expect(sessions.redeemTicket(other, ticket)).rejects.toMatchObject(
      refusal(
        "RELAY_TICKET_WRONG_SESSION",
        "FORBIDDEN",
        `issued for another session, not "${other}"`,
      ),
    );
    expect(await sessions.redeemTicket(own, ticket)).toEqual({ sessionId: own, userId: "local" });
  });

  it("refuses a ticket used before, also when redeemed by racing calls (exactly one wins)", async () => {
    const sessionId = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await sessions.redeemTicket(sessionId, ticket);
    await expect(sessions.redeemTicket(sessionId, ticket)).rejects.toMatchObject(
      refusal("RELAY_TICKET_USED", "FORBIDDEN", "already been used"),
    );

    const raced = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await openPoolConnections();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => sessions.redeemTicket(sessionId, raced)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected"))
      expect(r.reason).toMatchObject({ code: "RELAY_TICKET_USED" });
  });

  it("refuses an expired ticket and does not spend it", async () => {
    const sessionId = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await db
      .updateTable("ide_tickets")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("token_hash", "=", hashToken(ticket))
      .execute();
    await expect(sessions.redeemTicket(sessionId, ticket)).rejects.toMatchObject(
      refusal("RELAY_TICKET_EXPIRED", "UNAUTHORIZED", "has expired"),
    );
    const row = await db
      .selectFrom("ide_tickets")
      .select("used_at")
      .where("token_hash", "=", hashToken(ticket))
      .executeTakeFirstOrThrow();
    expect(row.used_at).toBeNull();
  });

  it("refuses a ticket once its session has ended", async () => {
    const sessionId = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await endSession(sessionId);
    await expect(sessions.redeemTicket(sessionId, ticket)).rejects.toMatchObject(
      refusal(
        "RELAY_TICKET_SESSION_ENDED",
        "FORBIDDEN",
        `interactive session "${sessionId}" has ended`,
      ),
    );
  });
});

describe("SessionService.authorizeTunnel", () => {
  it("lets an attempt's agent carry its own session's tunnel", async () => {
    const { attemptId, token } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId);
    expect(await sessions.authorizeTunnel(sessionId, token)).toEqual({ sessionId, attemptId });
  });

  it("refuses another attempt's token, an unknown token and an unknown session", async () => {
    const mine = await attempt();
    const theirs = await attempt();
    const { sessionId } = await sessions.openSession(mine.attemptId);
    await sessions.openSession(theirs.attemptId);
    await expect(sessions.authorizeTunnel(sessionId, theirs.token)).rejects.toMatchObject(
      refusal("TUNNEL_WRONG_ATTEMPT", "FORBIDDEN", "this agent token belongs to another attempt"),
    );
    await expect(
      sessions.authorizeTunnel(sessionId, randomBytes(24).toString("base64url")),
    ).rejects.toMatchObject(
      refusal("TUNNEL_TOKEN_UNKNOWN", "UNAUTHORIZED", "belongs to no attempt"),
    );
    await expect(sessions.authorizeTunnel("snosuchsession00", mine.token)).rejects.toMatchObject(
      refusal("SESSION_NOT_FOUND", "NOT_FOUND", "does not exist"),
    );
  });

  it("refuses once the session has ended or the attempt is no longer running", async () => {
    const ended = await attempt();
    const endedSession = (await sessions.openSession(ended.attemptId)).sessionId;
    await endSession(endedSession);
    await expect(sessions.authorizeTunnel(endedSession, ended.token)).rejects.toMatchObject(
      refusal(
        "TUNNEL_SESSION_ENDED",
        "FORBIDDEN",
        `interactive session "${endedSession}" has ended`,
      ),
    );

    const finished = await attempt();
    const { sessionId } = await sessions.openSession(finished.attemptId);
    await setAttemptStatus(finished.attemptId, "SUCCEEDED");
    await expect(sessions.authorizeTunnel(sessionId, finished.token)).rejects.toMatchObject(
      refusal(
        "TUNNEL_ATTEMPT_NOT_RUNNING",
        "FORBIDDEN",
        `attempt "${finished.attemptId}" is SUCCEEDED, not RUNNING`,
      ),
    );
  });
});

describe("SessionService.markReady and endSession", () => {
  it("shows the link only once the IDE answered through the relay, and says it again harmlessly", async () => {
    const { attemptId } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId);
    const before = await db
      .selectFrom("interactive_sessions")
      .select(["state", "link"])
      .where("id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(before).toEqual({ state: "STARTING", link: null });
    await sessions.markReady(sessionId);
    await sessions.markReady(sessionId);
    const after = await db
      .selectFrom("interactive_sessions")
      .select(["state", "link"])
      .where("id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ state: "READY", link: `http://${sessionId}.localhost:8081/` });
    await expect(sessions.markReady("nosuchsession")).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
      kind: "NOT_FOUND",
    });
  });

  it("takes READY away when the agent says its tunnel has been down too long, and gives it back when the relay has it again", async () => {
    const { attemptId } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId);
    await sessions.markReady(sessionId);
    const state = async () =>
      (
        await db
          .selectFrom("interactive_sessions")
          .select("state")
          .where("id", "=", sessionId)
          .executeTakeFirstOrThrow()
      ).state;
    // A reconnect's blip leaves it READY.
    await sessions.heartbeat(attemptId, false, TUNNEL_DOWN_UNREADY_MS - 1);
    expect(await state()).toBe("READY");
    await sessions.heartbeat(attemptId, false, TUNNEL_DOWN_UNREADY_MS);
    expect(await state()).toBe("STARTING");
    await sessions.markReady(sessionId);
    expect(await state()).toBe("READY");
  });

  it("ends the attempt's live session with its reason and first-run error, after which nothing reopens or readies it", async () => {
    const { attemptId, token } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId);
    await sessions.endSession(attemptId, "failed", { message: "boom", code: "TASK_FAILED" });
    const row = await db
      .selectFrom("interactive_sessions")
      .select(["state", "end_reason", "first_run_error", "ended_at"])
      .where("id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      state: "ENDED",
      end_reason: "failed",
      first_run_error: { message: "boom", code: "TASK_FAILED" },
    });
    expect(row.ended_at).not.toBeNull();
    await expect(sessions.markReady(sessionId)).rejects.toMatchObject({ code: "SESSION_ENDED" });
    await expect(sessions.authorizeTunnel(sessionId, token)).rejects.toMatchObject({
      code: "TUNNEL_SESSION_ENDED",
    });
    // Ending again, or with no live session, is not an error.
    await sessions.endSession(attemptId, "resumed");
    const again = await db
      .selectFrom("interactive_sessions")
      .select("end_reason")
      .where("id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(again.end_reason).toBe("failed");
  });
});

/** Seconds from the database's now() to the session's idle deadline. */
async function idleSecondsLeft(sessionId: string): Promise<number> {
  const row = await db
    .selectFrom("interactive_sessions")
    .select(sql<number>`extract(epoch from idle_deadline - now())::float8`.as("left"))
    .where("id", "=", sessionId)
    .executeTakeFirstOrThrow();
  return row.left;
}

async function setIdleDeadline(sessionId: string, secondsFromNow: number) {
  await db
    .updateTable("interactive_sessions")
    .set({ idle_deadline: sql<Date>`now() + make_interval(secs => ${secondsFromNow})` })
    .where("id", "=", sessionId)
    .execute();
}

/** Node n0 of a new execution, in `nodeStatus`, with one attempt per status given (numbered from 1). */
async function nodeWithAttempts(
  attemptStatuses: string[],
  nodeStatus = "RUNNING",
): Promise<{ executionId: string; attemptIds: string[] }> {
  const executionId = `x${++seq}`;
  await db
    .insertInto("executions")
    .values({
      id: executionId,
      project: "default",
      workflow: "wf",
      version: "v1",
      status: "RUNNING",
      inputs: "{}",
    })
    .execute();
  await db
    .insertInto("node_executions")
    .values({ execution_id: executionId, node_id: "n0", task: "t", status: nodeStatus })
    .execute();
  const attemptIds = attemptStatuses.map((_, i) => `${executionId}.n0.a${i + 1}`);
  if (attemptIds.length > 0) {
    await db
      .insertInto("attempts")
      .values(
        attemptStatuses.map((status, i) => ({
          id: `${executionId}.n0.a${i + 1}`,
          execution_id: executionId,
          node_id: "n0",
          number: i + 1,
          status,
        })),
      )
      .execute();
  }
  return { executionId, attemptIds };
}

describe("SessionService idle deadline, resume and edits (interactive tasks)", () => {
  it("openSession records maxIdleSeconds (36000 by default) and maxUnopenedSeconds (a quarter by default), a deadline maxUnopenedSeconds away on the database's clock, and a first run's error", async () => {
    const plain = await attempt();
    const { sessionId: defaulted } = await sessions.openSession(plain.attemptId);
    const row = await db
      .selectFrom("interactive_sessions")
      .select(["max_idle_seconds", "max_unopened_seconds", "first_run_error"])
      .where("id", "=", defaulted)
      .executeTakeFirstOrThrow();
    const unopened = defaultMaxUnopenedSeconds(DEFAULT_MAX_IDLE_SECONDS);
    expect(row).toEqual({
      max_idle_seconds: DEFAULT_MAX_IDLE_SECONDS,
      max_unopened_seconds: unopened,
      first_run_error: null,
    });
    expect(unopened).toBe(9_000);
    expect(await idleSecondsLeft(defaulted)).toBeGreaterThan(unopened - 5);
    expect(await idleSecondsLeft(defaulted)).toBeLessThanOrEqual(unopened);

    const failedFirst = await attempt();
    const firstRunError = {
      message: "x is not a number",
      stack: "Error: x is not a number\n    at task.ts:3",
      code: "TASK_FAILED",
    };
    const opened = await sessions.openSession(failedFirst.attemptId, {
      maxIdleSeconds: 90,
      firstRunError,
    });
    // Asking again returns the same live session, options or not.
    expect(await sessions.openSession(failedFirst.attemptId, { maxIdleSeconds: 5 })).toEqual(
      opened,
    );
    const custom = await db
      .selectFrom("interactive_sessions")
      .select(["max_idle_seconds", "max_unopened_seconds", "first_run_error"])
      .where("attempt_id", "=", failedFirst.attemptId)
      .execute();
    // A quarter of 90 s is under the one-minute floor.
    expect(custom).toEqual([
      { max_idle_seconds: 90, max_unopened_seconds: 60, first_run_error: firstRunError },
    ]);
    expect(await idleSecondsLeft(opened.sessionId)).toBeGreaterThan(55);
    expect(await idleSecondsLeft(opened.sessionId)).toBeLessThanOrEqual(60);

    // Ending it without an error keeps the first run's error on the record.
    await sessions.endSession(failedFirst.attemptId, "resumed");
    const ended = await db
      .selectFrom("interactive_sessions")
      .select(["end_reason", "first_run_error"])
      .where("id", "=", opened.sessionId)
      .executeTakeFirstOrThrow();
    expect(ended).toEqual({ end_reason: "resumed", first_run_error: firstRunError });
  });

  it("heartbeat answers the idle time left from the database's clock (≤ 0 once passed), moves the deadline only while active once opened, and shows a resume request", async () => {
    const { attemptId } = await attempt();
    expect(await sessions.heartbeat(attemptId, true)).toBeUndefined();
    const { sessionId } = await sessions.openSession(attemptId, { maxIdleSeconds: 60 });
    const executionId = attemptId.split(".")[0] ?? "";

    await setIdleDeadline(sessionId, -3);
    const expired = await sessions.heartbeat(attemptId, false);
    expect(expired?.idleRemainingMs).toBeLessThanOrEqual(-2_900);
    expect(expired?.resumeRequested).toBe(false);
    expect(await idleSecondsLeft(sessionId)).toBeLessThan(0);

    // Activity before anyone opened the IDE (the relay's probe, say) leaves the unopened deadline alone.
    expect((await sessions.heartbeat(attemptId, true))?.idleRemainingMs).toBeLessThanOrEqual(
      -2_900,
    );
    await sessions.opened(sessionId);
    await setIdleDeadline(sessionId, -3);
    const active = await sessions.heartbeat(attemptId, true);
    expect(active?.idleRemainingMs).toBeGreaterThan(59_000);
    expect(active?.idleRemainingMs).toBeLessThanOrEqual(60_000);
    const stored = await db
      .selectFrom("interactive_sessions")
      .select("idle_deadline")
      .where("id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(active?.idleDeadline).toBe(stored.idle_deadline?.toISOString());

    // Without activity the deadline stays where it was, and the time left runs down.
    await setIdleDeadline(sessionId, 10);
    const quiet = await sessions.heartbeat(attemptId, false);
    expect(quiet?.idleRemainingMs).toBeGreaterThan(9_000);
    expect(quiet?.idleRemainingMs).toBeLessThanOrEqual(10_000);

    const resumed = await sessions.resume(executionId, "n0");
    expect(resumed.resumeRequestedAt).toBeDefined();
    expect((await sessions.heartbeat(attemptId, false))?.resumeRequested).toBe(true);

    await sessions.endSession(attemptId, "resumed");
    expect(await sessions.heartbeat(attemptId, true)).toBeUndefined();
  });

  it("resume flags the live session once (asking again keeps the first time) and returns it as users see it", async () => {
    const { attemptId } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId, { maxIdleSeconds: 120 });
    const executionId = attemptId.split(".")[0] ?? "";
    await sessions.updateSession(attemptId, {
      extensionProblems: [{ extension: "https://x.test/a.vsix", message: "404 Not Found" }],
    });
    const first = await sessions.resume(executionId, "n0");
    const again = await sessions.resume(executionId, "n0");
    expect(InteractiveSessionSchema.parse(first)).toEqual(first);
    expect(first).toMatchObject({
      id: sessionId,
      attemptId,
      state: "STARTING",
      maxIdleSeconds: 120,
      extensionProblems: [{ extension: "https://x.test/a.vsix", message: "404 Not Found" }],
      hasChanges: false,
    });
    expect(again.resumeRequestedAt).toBe(first.resumeRequestedAt);
  });

  it("keepAlive moves the deadline by the limit that applies (maxUnopenedSeconds until opened, then maxIdleSeconds), never earlier than it was", async () => {
    const { attemptId } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId, {
      maxIdleSeconds: 300,
      maxUnopenedSeconds: 100,
    });
    const executionId = attemptId.split(".")[0] ?? "";
    await setIdleDeadline(sessionId, 5);
    const unopened = await sessions.keepAlive(executionId, "n0");
    expect(unopened.limit).toBe("unopened");
    expect(await idleSecondsLeft(sessionId)).toBeGreaterThan(95);
    expect(await idleSecondsLeft(sessionId)).toBeLessThanOrEqual(100);
    await sessions.opened(sessionId);
    await setIdleDeadline(sessionId, 5);
    const kept = await sessions.keepAlive(executionId, "n0");
    expect(kept.limit).toBe("idle");
    expect(await idleSecondsLeft(sessionId)).toBeGreaterThan(295);
    expect(kept.idleDeadline).toBe(
      (
        await db
          .selectFrom("interactive_sessions")
          .select("idle_deadline")
          .where("id", "=", sessionId)
          .executeTakeFirstOrThrow()
      ).idle_deadline?.toISOString(),
    );
    await setIdleDeadline(sessionId, 1_000);
    await sessions.keepAlive(executionId, "n0");
    expect(await idleSecondsLeft(sessionId)).toBeGreaterThan(995);
  });

  it("resume and keepAlive refuse unknown executions and nodes (NOT_FOUND) and nodes without a live session (CONFLICT), saying why", async () => {
    for (const call of [sessions.resume.bind(sessions), sessions.keepAlive.bind(sessions)]) {
      await expect(call("xnosuch", "n0")).rejects.toMatchObject(
        refusal("EXECUTION_NOT_FOUND", "NOT_FOUND", 'execution "xnosuch" does not exist'),
      );
      const pending = await nodeWithAttempts([], "PENDING");
      await expect(call(pending.executionId, "n7")).rejects.toMatchObject(
        refusal(
          "NODE_NOT_FOUND",
          "NOT_FOUND",
          `node "n7" of execution "${pending.executionId}" does not exist`,
        ),
      );
      await expect(call(pending.executionId, "n0")).rejects.toMatchObject(
        refusal(
          "NO_LIVE_SESSION",
          "CONFLICT",
          `node "n0" of execution "${pending.executionId}" has no live interactive session (it is PENDING and has not started)`,
        ),
      );

      const succeeded = await nodeWithAttempts(["SUCCEEDED"], "SUCCEEDED");
      await expect(call(succeeded.executionId, "n0")).rejects.toMatchObject(
        refusal(
          "NO_LIVE_SESSION",
          "CONFLICT",
          `node "n0" of execution "${succeeded.executionId}" has no live interactive session (its latest attempt is SUCCEEDED)`,
        ),
      );

      const running = await nodeWithAttempts(["RUNNING"]);
      await expect(call(running.executionId, "n0")).rejects.toMatchObject(
        refusal(
          "NO_LIVE_SESSION",
          "CONFLICT",
          "(its latest attempt is RUNNING and has not opened one)",
        ),
      );
      await sessions.openSession(running.attemptIds[0] ?? "");
      await sessions.endSession(running.attemptIds[0] ?? "", "resumed");
      await expect(call(running.executionId, "n0")).rejects.toMatchObject(
        refusal(
          "NO_LIVE_SESSION",
          "CONFLICT",
          "(its latest attempt is RUNNING; its session ended: resumed)",
        ),
      );

      // A retried node: the first attempt's session is not the node's live one.
      const retried = await nodeWithAttempts(["RUNNING", "QUEUED"]);
      await sessions.openSession(retried.attemptIds[0] ?? "");
      await expect(call(retried.executionId, "n0")).rejects.toMatchObject(
        refusal(
          "NO_LIVE_SESSION",
          "CONFLICT",
          "(its latest attempt is QUEUED and has not opened one)",
        ),
      );

      const fanOut = await nodeWithAttempts([]);
      await db
        .updateTable("node_executions")
        .set({ children_total: 3 })
        .where("execution_id", "=", fanOut.executionId)
        .execute();
      await expect(call(fanOut.executionId, "n0")).rejects.toMatchObject(
        refusal(
          "NO_LIVE_SESSION",
          "CONFLICT",
          '(it is a fan-out; name one of its elements, e.g. "n0[0]")',
        ),
      );
    }
  });

  it("updateSession saves extension problems and edits on the attempt's latest session, also once it ended; changes returns them after the end", async () => {
    const { attemptId } = await attempt();
    const executionId = attemptId.split(".")[0] ?? "";
    await expect(sessions.updateSession(attemptId, { changes: "x" })).rejects.toMatchObject(
      refusal(
        "SESSION_NOT_OPENED",
        "PRECONDITION_FAILED",
        `attempt "${attemptId}" has no interactive session; open one with agent.openSession first`,
      ),
    );
    await expect(sessions.changes(executionId, "n0")).rejects.toMatchObject(
      refusal(
        "NO_SESSION",
        "NOT_FOUND",
        `node "n0" of execution "${executionId}" never had an interactive session (its latest attempt is RUNNING and opened none)`,
      ),
    );

    const { sessionId: first } = await sessions.openSession(attemptId);
    expect(await sessions.changes(executionId, "n0")).toEqual({ sessionId: first, patch: "" });
    await sessions.endSession(attemptId, "failed");
    const { sessionId: second } = await sessions.openSession(attemptId);

    const problems = [{ extension: "vscodevim.vim", message: "could not download it: ENOTFOUND" }];
    await sessions.updateSession(attemptId, { extensionProblems: problems });
    const patch = "--- a/src/task.ts\n+++ b/src/task.ts\n@@ -1 +1 @@\n-return x;\n+return x + 1;\n";
    await sessions.updateSession(attemptId, { changes: "draft" });
    await sessions.endSession(attemptId, "resumed");
    // The agent's final save comes right after it ended the session.
    await sessions.updateSession(attemptId, { changes: patch });
    await sessions.updateSession(attemptId, {});

    const rows = await db
      .selectFrom("interactive_sessions")
      .select(["id", "state", "extension_problems", "changes"])
      .where("attempt_id", "=", attemptId)
      .orderBy("created_at")
      .execute();
    expect(rows).toEqual([
      { id: first, state: "ENDED", extension_problems: [], changes: null },
      { id: second, state: "ENDED", extension_problems: problems, changes: patch },
    ]);
    const saved = await sessions.changes(executionId, "n0");
    expect(saved).toMatchObject({ sessionId: second, patch });
    expect(Date.now() - Date.parse(saved.savedAt ?? "")).toBeLessThan(60_000);
  });

  it("changes reads the node's latest session across attempts, and refuses unknown nodes and nodes that never had one", async () => {
    const { executionId, attemptIds } = await nodeWithAttempts(["RUNNING", "RUNNING"]);
    const [a1, a2] = attemptIds as [string, string];
    await sessions.openSession(a1);
    await sessions.updateSession(a1, { changes: "first attempt's edits" });
    await sessions.endSession(a1, "failed");
    await setAttemptStatus(a1, "FAILED");
    expect((await sessions.changes(executionId, "n0")).patch).toBe("first attempt's edits");
    const { sessionId } = await sessions.openSession(a2);
    await sessions.updateSession(a2, { changes: "" });
    expect(await sessions.changes(executionId, "n0")).toMatchObject({ sessionId, patch: "" });

    await expect(sessions.changes("xnosuch", "n0")).rejects.toMatchObject(
      refusal("EXECUTION_NOT_FOUND", "NOT_FOUND", 'execution "xnosuch" does not exist'),
    );
    await expect(sessions.changes(executionId, "n3")).rejects.toMatchObject(
      refusal(
        "NODE_NOT_FOUND",
        "NOT_FOUND",
        `node "n3" of execution "${executionId}" does not exist`,
      ),
    );
    const pending = await nodeWithAttempts([], "PENDING");
    await expect(sessions.changes(pending.executionId, "n0")).rejects.toMatchObject(
      refusal(
        "NO_SESSION",
        "NOT_FOUND",
        "never had an interactive session (it is PENDING and has not run)",
      ),
    );
  });
});

describe("SessionService tells the execution's watchers every change of a session", () => {
  it("publishes the whole session on open, READY, an active heartbeat, keep-alive, resume, saved edits and the end, and nothing for an idle heartbeat", async () => {
    const { attemptId } = await attempt();
    const executionId = attemptId.split(".")[0] ?? "";
    const seen: {
      state: string;
      deadline?: string;
      resume?: string;
      hasChanges: boolean;
      endReason?: string;
    }[] = [];
    const off = bus.subscribe(executionId, (event) => {
      if (event.type !== "session") return;
      expect(event).toMatchObject({ executionId, nodeId: "n0", attemptId });
      const s = InteractiveSessionSchema.parse(event.session);
      seen.push({
        state: s.state,
        deadline: s.idleDeadline,
        resume: s.resumeRequestedAt,
        hasChanges: s.hasChanges,
        endReason: s.endReason,
      });
    });
    try {
      const { sessionId } = await sessions.openSession(attemptId, { maxIdleSeconds: 60 });
      await sessions.openSession(attemptId, { maxIdleSeconds: 60 });
      expect(seen.map((e) => e.state)).toEqual(["STARTING"]);
      await sessions.markReady(sessionId);
      expect(seen.at(-1)?.state).toBe("READY");
      await sessions.heartbeat(attemptId, false);
      expect(seen).toHaveLength(2);
      // The deadline can only move once the database's clock has passed the millisecond it was set at (60 s before it).
      const setAt = Date.parse(seen[1]?.deadline ?? "") - 60_000;
      await expect
        .poll(async () =>
          (await sql<{ now: Date }>`SELECT now() AS now`.execute(db)).rows[0]?.now.getTime(),
        )
        .toBeGreaterThan(setAt);
      // Active, and opened (through the pinned port): only an opened session's deadline follows activity.
      await sessions.heartbeat(attemptId, true, 0, true);
      expect(seen).toHaveLength(3);
      expect(Date.parse(seen[2]?.deadline ?? "")).toBeGreaterThan(
        Date.parse(seen[1]?.deadline ?? ""),
      );
      await sessions.keepAlive(executionId, "n0");
      expect(seen).toHaveLength(4);
      await sessions.updateSession(attemptId, { changes: "--- a/x\n+++ b/x\n" });
      expect(seen.at(-1)?.hasChanges).toBe(true);
      await sessions.resume(executionId, "n0");
      expect(seen.at(-1)?.resume).toBeDefined();
      await sessions.endSession(attemptId, "resumed");
      expect(seen.at(-1)).toMatchObject({ state: "ENDED", endReason: "resumed" });
      await sessions.endSession(attemptId, "resumed");
      expect(seen).toHaveLength(7);
    } finally {
      off();
    }
  });
});
