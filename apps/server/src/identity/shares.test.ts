/**
 * Sharing a live session: a viewer cannot open the IDE until its owner shares it, and not after the share is
 * revoked or expires; relays hear of each revocation (`relay.accessEvents`), and learn the recent ones first.
 */
import type { RelayAccessEvent } from "@drydock/contracts";
import { createAppRouter } from "@drydock/contracts/router";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { bearerHeader, testControlPlane } from "../__tests__/control-plane.js";
import type { TestControlPlane } from "../__tests__/control-plane.js";
import { LIVE_SESSION, cookieOf, seedTeam, seedWork } from "../__tests__/team-fixtures.js";
import type { Team } from "../__tests__/team-fixtures.js";

let t: TestControlPlane;
let team: Team;
const subscriptions: AbortController[] = [];

beforeAll(async () => {
  t = await testControlPlane();
  team = await seedTeam(t);
  await seedWork(t, team.userIds.editor);
  await t.plane.identity.shares.start();
});
afterAll(async () => {
  for (const s of subscriptions) s.abort();
  await t?.close();
});

/** A relay's subscription to `relay.accessEvents`, through the router with the relay token's principal. */
async function relaySubscriber(): Promise<RelayAccessEvent[]> {
  const abort = new AbortController();
  subscriptions.push(abort);
  const caller = createAppRouter(t.plane.handlers).createCaller(
    {
      principal: await t.plane.auth.principal(t.relayToken),
      requestId: "relay",
      client: {},
      accessChecker: t.plane.identity.checker,
    },
    { signal: abort.signal },
  );
  const events: RelayAccessEvent[] = [];
  const stream = await caller.relay.accessEvents();
  void (async () => {
    for await (const event of stream) events.push(event);
  })().catch(() => undefined);
  await vi.waitFor(() => expect(events[0]?.type).toBe("snapshot"));
  return events;
}

const ticketAs = (headers: Record<string, string>) =>
  t.call("sessions.ideTicket", { sessionId: LIVE_SESSION }, { kind: "mutation", headers });
const share = (user: string, expiresAt: Date, headers = team.headers.editor) =>
  t.call(
    "sessions.share",
    { sessionId: LIVE_SESSION, user, expiresAt: expiresAt.toISOString() },
    { kind: "mutation", headers },
  );
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);

describe("sharing a live session", () => {
  it("lets a viewer open the IDE only while shared; the relay hears the revocation at once", async () => {
    const events = await relaySubscriber();
    const refused = await ticketAs(team.headers.viewer);
    expect(refused.status).toBe(403);
    expect(refused.body.error?.message).toBe(
      "you need the editor role in project default (you are viewer), or the session shared with you",
    );

    const shared = await share("uviewer@example.com", inMinutes(10));
    expect(shared.status).toBe(200);
    expect(shared.body.result?.data).toMatchObject({
      user: { id: "uviewer" },
      grantedBy: { id: "ueditor" },
    });
    const ticket = await ticketAs(team.headers.viewer);
    expect(ticket.status).toBe(200);
    const access = await t.call(
      "sessions.access",
      { sessionId: LIVE_SESSION },
      { headers: team.headers.viewer },
    );
    expect(access.body.result?.data).toMatchObject({
      owner: { id: "ueditor" },
      shares: [{ user: { id: "uviewer" } }],
    });

    // A ticket issued while shared does not open the IDE once the share is revoked.
    const pending = new URL((ticket.body.result?.data as { url: string }).url).searchParams.get(
      "ticket",
    );
    const revoked = await t.call(
      "sessions.revokeShare",
      { sessionId: LIVE_SESSION, user: "uviewer" },
      { kind: "mutation", headers: team.headers.editor },
    );
    expect(revoked.status).toBe(200);
    expect((await ticketAs(team.headers.viewer)).status).toBe(403);
    const late = await t.call(
      "relay.redeemTicket",
      { sessionId: LIVE_SESSION, ticket: pending },
      { kind: "mutation", headers: bearerHeader(t.relayToken) },
    );
    expect(late.status).toBe(403);
    await vi.waitFor(() =>
      expect(events).toContainEqual(
        expect.objectContaining({ type: "revoked", sessionId: LIVE_SESSION, userId: "uviewer" }),
      ),
    );
    // Revoking what is not shared says so.
    const again = await t.call(
      "sessions.revokeShare",
      { sessionId: LIVE_SESSION, user: "uviewer" },
      { kind: "mutation", headers: team.headers.editor },
    );
    expect(again.status).toBe(404);
  });

  it("ends a share at its expiry: the ticket is refused and relays are told then", async () => {
    const events = await relaySubscriber();
    const before = events.length;
    expect((await share("uviewer", new Date(Date.now() + 1_500))).status).toBe(200);
    expect((await ticketAs(team.headers.viewer)).status).toBe(200);
    await vi.waitFor(
      () =>
        expect(events.slice(before)).toContainEqual(
          expect.objectContaining({ type: "revoked", sessionId: LIVE_SESSION, userId: "uviewer" }),
        ),
      { timeout: 10_000, interval: 100 },
    );
    expect((await ticketAs(team.headers.viewer)).status).toBe(403);
  });

  it("gives a relay that subscribes the last day's revocations first, members who lost the editor role included", async () => {
    await t.db
      .insertInto("users")
      .values({ id: "ueditor2", name: "Second editor", email: "e2@example.com" })
      .execute();
    await t.db
      .insertInto("project_members")
      .values({ project: "default", user_id: "ueditor2", role: "editor" })
      .execute();
    const e2 = await cookieOf(t, "ueditor2");
    expect((await ticketAs(e2)).status).toBe(200);
    const live = await relaySubscriber();
    const demoted = await t.call(
      "projects.setMember",
      { project: "default", user: "ueditor2", role: "viewer" },
      { kind: "mutation", headers: team.headers.admin },
    );
    expect(demoted.status).toBe(200);
    await vi.waitFor(() =>
      expect(live).toContainEqual(
        expect.objectContaining({ type: "revoked", sessionId: LIVE_SESSION, userId: "ueditor2" }),
      ),
    );
    expect((await ticketAs(e2)).status).toBe(403);

    const [snapshot] = await relaySubscriber();
    expect(snapshot?.type).toBe("snapshot");
    const revoked = snapshot?.type === "snapshot" ? snapshot.revoked : [];
    const users = revoked.filter((r) => r.sessionId === LIVE_SESSION).map((r) => r.userId);
    // Revoked, expired, and the demoted member.
    expect(users.filter((u) => u === "uviewer").length).toBeGreaterThanOrEqual(2);
    expect(users).toContain("ueditor2");
  });

  it("refuses a share to nobody, in the past, past the attempt's deadline, or by a non-owner editor", async () => {
    expect((await share("nobody@example.com", inMinutes(5))).status).toBe(404);
    const past = await share("uviewer", new Date(Date.now() - 1_000));
    expect(past.status).toBe(400);
    expect(past.body.error?.message).toMatch(/not in the future/);
    await t.db
      .updateTable("attempts")
      .set({ deadline_at: inMinutes(30) })
      .where("id", "=", `${"xlivefixture0000"}.n0.a1`)
      .execute();
    const beyond = await share("uviewer", inMinutes(60));
    expect(beyond.status).toBe(400);
    expect(beyond.body.error?.message).toMatch(/cannot outlive it/);
    await t.db.insertInto("users").values({ id: "ueditor3", name: "E3" }).execute();
    await t.db
      .insertInto("project_members")
      .values({ project: "default", user_id: "ueditor3", role: "editor" })
      .execute();
    const notOwner = await share("uviewer", inMinutes(5), await cookieOf(t, "ueditor3"));
    expect(notOwner.status).toBe(403);
    expect(notOwner.body.error?.message).toMatch(/only who launched the execution/);
  });

  it("records who opened the session and who is connected now, as relays report it", async () => {
    const ticket = await ticketAs(team.headers.editor);
    const redeem = await t.call(
      "relay.redeemTicket",
      {
        sessionId: LIVE_SESSION,
        ticket: new URL((ticket.body.result?.data as { url: string }).url).searchParams.get(
          "ticket",
        ),
      },
      { kind: "mutation", headers: bearerHeader(t.relayToken) },
    );
    expect(redeem.status).toBe(200);
    const since = new Date().toISOString();
    const report = (relayId: string, connections: number) =>
      t.call(
        "relay.reportConnections",
        {
          relayId,
          sessions:
            connections > 0
              ? [{ sessionId: LIVE_SESSION, users: [{ userId: "ueditor", connections, since }] }]
              : [],
        },
        { kind: "mutation", headers: bearerHeader(t.relayToken) },
      );
    expect((await report("relay-a", 2)).status).toBe(200);
    expect((await report("relay-b", 1)).status).toBe(200);
    // A relay that stopped reporting drops out.
    await t.db
      .updateTable("relay_connections")
      .set({ reported_at: new Date(Date.now() - 120_000) })
      .where("relay_id", "=", "relay-b")
      .execute();
    const access = async () =>
      (
        await t.call(
          "sessions.access",
          { sessionId: LIVE_SESSION },
          { headers: team.headers.viewer },
        )
      ).body.result?.data as {
        openedBy: { user: { id: string }; times: number }[];
        connected: { user: { id: string }; connections: number }[];
      };
    const now = await access();
    expect(now.openedBy.find((o) => o.user.id === "ueditor")?.times).toBe(1);
    expect(now.connected).toEqual([
      expect.objectContaining({ user: { id: "ueditor", name: "User ueditor" }, connections: 2 }),
    ]);
    // Each report replaces the relay's picture.
    expect((await report("relay-a", 0)).status).toBe(200);
    expect((await access()).connected).toEqual([]);
  });
});
