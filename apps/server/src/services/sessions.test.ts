import { createHash, randomBytes } from "node:crypto";

import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { testDatabase } from "../__tests__/postgres.js";
import type { Db } from "../db/database.js";
import { createLogger } from "../logger.js";
import { hashToken } from "./scheduler.js";
import { SessionService } from "./sessions.js";

const RELAY_URL = "http://127.0.0.1:8081";
const IDE_ORIGIN = "http://localhost:8081";

let pg: Awaited<ReturnType<typeof testDatabase>>;
let db: Db;
let sessions: SessionService;
let seq = 0;

beforeAll(async () => {
  pg = await testDatabase();
  db = pg.db;
  sessions = new SessionService({ db, log: createLogger("silent"), relay: { relayUrl: RELAY_URL, ideOrigin: IDE_ORIGIN } });
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
    .values({ id: executionId, project: "default", workflow: "wf", version: "v1", status: "RUNNING", inputs: "{}" })
    .execute();
  await db
    .insertInto("attempts")
    .values({ id: attemptId, execution_id: executionId, node_id: "n0", number: 1, status, token_hash: hashToken(token) })
    .execute();
  return { attemptId, token };
}

async function endSession(sessionId: string) {
  await db.updateTable("interactive_sessions").set({ state: "ENDED", ended_at: new Date() }).where("id", "=", sessionId).execute();
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
  message: typeof says === "string" ? expect.stringContaining(says) : expect.stringMatching(says),
});

describe("SessionService.openSession", () => {
  it("opens one STARTING session per running attempt, returns it again (also to racing calls), and names the tunnel's host", async () => {
    const { attemptId } = await attempt();
    const first = await sessions.openSession(attemptId);
    expect(first.sessionId).toMatch(/^s[a-z0-9]{15}$/);
    expect(first.tunnel).toEqual({ relayUrl: RELAY_URL, host: `${first.sessionId}.localhost:8081` });
    expect(await sessions.openSession(attemptId)).toEqual(first);

    const racing = await attempt();
    await openPoolConnections();
    const answers = await Promise.all(Array.from({ length: 8 }, () => sessions.openSession(racing.attemptId)));
    expect(new Set(answers.map((a) => a.sessionId)).size).toBe(1);
    expect(answers[0]?.sessionId).not.toBe(first.sessionId);

    const rows = await db.selectFrom("interactive_sessions").select(["id", "state"]).where("attempt_id", "in", [attemptId, racing.attemptId]).orderBy("created_at").execute();
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
        refusal("ATTEMPT_NOT_RUNNING", "CONFLICT", `attempt "${attemptId}" is ${status}, not RUNNING`),
      );
      expect(await db.selectFrom("interactive_sessions").select("id").where("attempt_id", "=", attemptId).execute()).toEqual([]);
    }
    await expect(sessions.openSession("x0.n0.a1")).rejects.toMatchObject({ code: "ATTEMPT_NOT_FOUND", kind: "NOT_FOUND" });
  });

  it("without a relay configured, refuses sessions and tickets, naming the missing settings", async () => {
    const { attemptId } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId);
    const unconfigured = new SessionService({ db, log: createLogger("silent"), relay: {} });
    await expect(unconfigured.openSession(attemptId)).rejects.toMatchObject(
      refusal("RELAY_NOT_CONFIGURED", "PRECONDITION_FAILED", "no DRYDOCK_RELAY_URL (relayUrl) and no DRYDOCK_IDE_ORIGIN (ideOrigin) configured"),
    );
    await expect(unconfigured.ideTicket(sessionId, "local")).rejects.toMatchObject(
      refusal("RELAY_NOT_CONFIGURED", "PRECONDITION_FAILED", /has no DRYDOCK_IDE_ORIGIN \(ideOrigin\) configured$/),
    );
    const noOrigin = new SessionService({ db, log: createLogger("silent"), relay: { relayUrl: RELAY_URL } });
    await expect(noOrigin.openSession(attemptId)).rejects.toMatchObject(
      refusal("RELAY_NOT_CONFIGURED", "PRECONDITION_FAILED", /has no DRYDOCK_IDE_ORIGIN \(ideOrigin\) configured$/),
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

    const stored = await db.selectFrom("ide_tickets").selectAll().where("session_id", "=", sessionId).execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ token_hash: createHash("sha256").update(ticket).digest("hex"), user_id: "local", used_at: null });
    expect(JSON.stringify(stored)).not.toContain(ticket);

    expect(await sessions.redeemTicket(sessionId, ticket)).toEqual({ sessionId, userId: "local" });
    const spent = await db.selectFrom("ide_tickets").select("used_at").where("session_id", "=", sessionId).executeTakeFirstOrThrow();
    expect(spent.used_at).toBeInstanceOf(Date);
  });

  it("refuses a ticket for an unknown or ended session", async () => {
    await expect(sessions.ideTicket("snosuchsession00", "local")).rejects.toMatchObject(
      refusal("SESSION_NOT_FOUND", "NOT_FOUND", `interactive session "snosuchsession00" does not exist`),
    );
    const sessionId = await openSession();
    await endSession(sessionId);
    await expect(sessions.ideTicket(sessionId, "local")).rejects.toMatchObject(refusal("SESSION_ENDED", "CONFLICT", "has ended"));
  });

  it("refuses an unknown ticket", async () => {
    const sessionId = await openSession();
    await sessions.ideTicket(sessionId, "local");
    await expect(sessions.redeemTicket(sessionId, randomBytes(32).toString("base64url"))).rejects.toMatchObject(
      refusal("RELAY_TICKET_UNKNOWN", "UNAUTHORIZED", "not one the control plane issued"),
    );
  });

  it("refuses a ticket shown to another session without spending it: it still opens its own", async () => {
    const own = await openSession();
    const other = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(own, "local")).url);
    await expect(sessions.redeemTicket(other, ticket)).rejects.toMatchObject(
      refusal("RELAY_TICKET_WRONG_SESSION", "FORBIDDEN", `issued for another session, not "${other}"`),
    );
    expect(await sessions.redeemTicket(own, ticket)).toEqual({ sessionId: own, userId: "local" });
  });

  it("refuses a ticket used before, also when redeemed by racing calls (exactly one wins)", async () => {
    const sessionId = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await sessions.redeemTicket(sessionId, ticket);
    await expect(sessions.redeemTicket(sessionId, ticket)).rejects.toMatchObject(refusal("RELAY_TICKET_USED", "FORBIDDEN", "already been used"));

    const raced = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await openPoolConnections();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => sessions.redeemTicket(sessionId, raced)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected")) expect(r.reason).toMatchObject({ code: "RELAY_TICKET_USED" });
  });

  it("refuses an expired ticket and does not spend it", async () => {
    const sessionId = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await db
      .updateTable("ide_tickets")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("token_hash", "=", hashToken(ticket))
      .execute();
    await expect(sessions.redeemTicket(sessionId, ticket)).rejects.toMatchObject(refusal("RELAY_TICKET_EXPIRED", "UNAUTHORIZED", "has expired"));
    const row = await db.selectFrom("ide_tickets").select("used_at").where("token_hash", "=", hashToken(ticket)).executeTakeFirstOrThrow();
    expect(row.used_at).toBeNull();
  });

  it("refuses a ticket once its session has ended", async () => {
    const sessionId = await openSession();
    const ticket = ticketOf((await sessions.ideTicket(sessionId, "local")).url);
    await endSession(sessionId);
    await expect(sessions.redeemTicket(sessionId, ticket)).rejects.toMatchObject(
      refusal("RELAY_TICKET_SESSION_ENDED", "FORBIDDEN", `interactive session "${sessionId}" has ended`),
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
    await expect(sessions.authorizeTunnel(sessionId, randomBytes(24).toString("base64url"))).rejects.toMatchObject(
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
      refusal("TUNNEL_SESSION_ENDED", "FORBIDDEN", `interactive session "${endedSession}" has ended`),
    );

    const finished = await attempt();
    const { sessionId } = await sessions.openSession(finished.attemptId);
    await setAttemptStatus(finished.attemptId, "SUCCEEDED");
    await expect(sessions.authorizeTunnel(sessionId, finished.token)).rejects.toMatchObject(
      refusal("TUNNEL_ATTEMPT_NOT_RUNNING", "FORBIDDEN", `attempt "${finished.attemptId}" is SUCCEEDED, not RUNNING`),
    );
  });
});

describe("SessionService.markReady and endSession", () => {
  it("shows the link only once the IDE answered through the relay, and says it again harmlessly", async () => {
    const { attemptId } = await attempt();
    const { sessionId } = await sessions.openSession(attemptId);
    const before = await db.selectFrom("interactive_sessions").select(["state", "link"]).where("id", "=", sessionId).executeTakeFirstOrThrow();
    expect(before).toEqual({ state: "STARTING", link: null });
    await sessions.markReady(sessionId);
    await sessions.markReady(sessionId);
    const after = await db.selectFrom("interactive_sessions").select(["state", "link"]).where("id", "=", sessionId).executeTakeFirstOrThrow();
    expect(after).toEqual({ state: "READY", link: `http://${sessionId}.localhost:8081/` });
    await expect(sessions.markReady("nosuchsession")).rejects.toMatchObject({ code: "SESSION_NOT_FOUND", kind: "NOT_FOUND" });
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
    expect(row).toMatchObject({ state: "ENDED", end_reason: "failed", first_run_error: { message: "boom", code: "TASK_FAILED" } });
    expect(row.ended_at).not.toBeNull();
    await expect(sessions.markReady(sessionId)).rejects.toMatchObject({ code: "SESSION_ENDED" });
    await expect(sessions.authorizeTunnel(sessionId, token)).rejects.toMatchObject({ code: "TUNNEL_SESSION_ENDED" });
    // Ending again, or with no live session, is not an error.
    await sessions.endSession(attemptId, "resumed");
    const again = await db.selectFrom("interactive_sessions").select("end_reason").where("id", "=", sessionId).executeTakeFirstOrThrow();
    expect(again.end_reason).toBe("failed");
  });
});
