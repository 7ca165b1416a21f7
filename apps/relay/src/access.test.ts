import { once } from "node:events";
import type { IncomingMessage } from "node:http";

import { openTunnel, type TunnelClient } from "@drydock/tunnel";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";

import {
  browse,
  echo,
  MemoryAuthority,
  openWebSocket,
  personCookie,
  RawConnection,
  startRelay,
  startUpstream,
  type Upstream,
} from "./__tests__/fixtures.js";
import type { Relay } from "./app.js";

/** The acceptance's bound: a revoked person's open tab loses its connection within 2 s. */
const CUT_WITHIN_MS = 2_000;
/** Cookies of before a revocation: issued a minute ago, the revocations being half a minute old. */
const ISSUED_SECONDS_AGO = 60;
const revokedAt = () => new Date(Date.now() - 30_000);

let upstream: Upstream;
const clients: TunnelClient[] = [];
/** What each test opened, closed after it. */
const opened: { close(): void }[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
});

afterEach(() => {
  for (const thing of opened.splice(0)) thing.close();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await upstream.close();
});

/** A relay of its own, with the sessions' tunnels connected. */
async function relayFor(authority: MemoryAuthority, sessions: string[]) {
  const relay = await startRelay(authority);
  for (const sessionId of sessions) {
    authority.tokens.set(`token-${sessionId}`, sessionId);
    const client = openTunnel({
      relayUrl: `http://127.0.0.1:${relay.port}`,
      host: `${sessionId}.localhost:${relay.port}`,
      token: `token-${sessionId}`,
      target: { host: "127.0.0.1", port: upstream.port },
    });
    clients.push(client);
    await client.whenConnected();
  }
  return relay;
}

async function webSocket(relay: Relay & { port: number }, sessionId: string, cookie: string) {
  const ws = await openWebSocket(relay.port, sessionId, cookie);
  opened.push({ close: () => ws.terminate() });
  return ws;
}

async function rawConnection(relay: Relay & { port: number }) {
  const raw = await RawConnection.open(relay.port);
  opened.push({ close: () => raw.socket.destroy() });
  return raw;
}

const get = (port: number, sessionId: string | null, path: string, cookie?: string) =>
  `GET ${path} HTTP/1.1\r\nHost: ${sessionId ? `${sessionId}.` : ""}localhost:${port}\r\n${cookie ? `Cookie: ${cookie}\r\n` : ""}\r\n`;

/** The status a WebSocket upgrade gets when the relay refuses it. */
function upgradeRefusal(port: number, sessionId: string, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, {
      headers: {
        host: `${sessionId}.localhost:${port}`,
        cookie,
        origin: `http://${sessionId}.localhost:${port}`,
      },
    });
    ws.on("unexpected-response", (_req, res: IncomingMessage) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on("open", () => {
      ws.terminate();
      reject(new Error("the upgrade was accepted"));
    });
    ws.on("error", () => undefined);
  });
}

/** Redeems a new ticket for `userId` on `sessionId`, as a browser following a fresh link does: the cookie it sets. */
async function redeem(
  authority: MemoryAuthority,
  port: number,
  sessionId: string,
  userId: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const ticket = `ticket-${userId}-${sessionId}-${Math.random()}`;
  authority.issue(ticket, sessionId, 60_000, userId);
  const answer = await browse(port, sessionId, `/__drydock/redeem?ticket=${ticket}`, headers);
  expect(answer.status).toBe(303);
  return (answer.headers["set-cookie"]?.[0] ?? "").split(";")[0] as string;
}

describe("revoking a person's access", () => {
  it("cuts that person's open connections to the session at once, on every path, and refuses the cookie; a new one works", async () => {
    const authority = new MemoryAuthority();
    const relay = await relayFor(authority, ["s1", "s2"]);
    try {
      const { port } = relay;
      const alice = personCookie("s1", "alice", ISSUED_SECONDS_AGO);
      // Alice on s1: a WebSocket and a kept-alive connection on the fast path; on connections handed to
      // the relay's HTTP server (their first request was the relay's own), a request and a WebSocket.
      const aliceWs = await webSocket(relay, "s1", alice);
      const aliceKept = await rawConnection(relay);
      await aliceKept.exchange(get(port, "s1", "/kept", alice), /"url":"\/kept"/);
      const aliceHanded = await rawConnection(relay);
      await aliceHanded.exchange(get(port, null, "/healthz"), /"ok":true/);
      await aliceHanded.exchange(get(port, "s1", "/handed", alice), /"url":"\/handed"/);
      const aliceHandedWs = await rawConnection(relay);
      await aliceHandedWs.exchange(get(port, null, "/healthz"), /"ok":true/);
      await aliceHandedWs.exchange(
        `GET /socket HTTP/1.1\r\nHost: s1.localhost:${port}\r\nCookie: ${alice}\r\nOrigin: http://s1.localhost:${port}\r\n` +
          "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        /^HTTP\/1\.1 101/,
      );
      // Bob on s1, and Alice on s2, are not revoked.
      const bobWs = await webSocket(relay, "s1", personCookie("s1", "bob", ISSUED_SECONDS_AGO));
      const aliceS2 = personCookie("s2", "alice", ISSUED_SECONDS_AGO);
      const aliceOtherSession = await webSocket(relay, "s2", aliceS2);
      await vi.waitFor(() => expect(authority.subscriptions).toBe(1));

      let aliceWsClosed = false;
      aliceWs.once("close", () => (aliceWsClosed = true));
      authority.revoke("s1", "alice", revokedAt());

      await vi.waitFor(
        () =>
          expect({
            ws: aliceWsClosed,
            kept: aliceKept.closed,
            handed: aliceHanded.closed,
            handedWs: aliceHandedWs.closed,
          }).toEqual({ ws: true, kept: true, handed: true, handedWs: true }),
        { timeout: CUT_WITHIN_MS, interval: 10 },
      );
      expect(await echo(bobWs, "bob still here")).toBe("bob still here");
      expect(await echo(aliceOtherSession, "s2 still here")).toBe("s2 still here");

      const refused = await browse(port, "s1", "/again", { cookie: alice });
      expect(refused.status).toBe(401);
      expect(refused.body).toContain("your access to this session was revoked");
      expect(await upgradeRefusal(port, "s1", alice)).toBe(401);
      const handedAgain = await rawConnection(relay);
      await handedAgain.exchange(get(port, null, "/healthz"), /"ok":true/);
      const handedRefusal = await handedAgain.exchange(
        get(port, "s1", "/handed", alice),
        /\r\n\r\n/,
      );
      expect(handedRefusal).toMatch(/^HTTP\/1\.1 401/);
      expect((await browse(port, "s2", "/other", { cookie: aliceS2 })).status).toBe(200);

      // Shared again: a new ticket, a cookie issued after the revocation, and the IDE opens.
      const fresh = await redeem(authority, port, "s1", "alice", {
        "user-agent": "test-browser/1",
      });
      expect((await browse(port, "s1", "/back", { cookie: fresh })).status).toBe(200);
      expect(await echo(await webSocket(relay, "s1", fresh), "back")).toBe("back");
      expect(authority.redemptions.at(-1)?.client).toEqual({
        ip: "127.0.0.1",
        userAgent: "test-browser/1",
      });
    } finally {
      await relay.close();
    }
  });

  it("applies the snapshot it subscribes with, keeps what it knew while the stream is down, and subscribes again", async () => {
    const authority = new MemoryAuthority();
    authority.revoke("s1", "alice", revokedAt());
    const relay = await relayFor(authority, ["s1"]);
    try {
      const { port } = relay;
      const alice = personCookie("s1", "alice", ISSUED_SECONDS_AGO);
      const bob = personCookie("s1", "bob", ISSUED_SECONDS_AGO);
      await vi.waitFor(async () =>
        expect((await browse(port, "s1", "/x", { cookie: alice })).status).toBe(401),
      );
      const bobWs = await webSocket(relay, "s1", bob);

      authority.accessDown = true;
      authority.breakAccessEvents();
      await vi.waitFor(() => expect(authority.subscriptions).toBeGreaterThanOrEqual(3), {
        timeout: 5_000,
      });
      expect((await browse(port, "s1", "/x", { cookie: alice })).status).toBe(401);
      expect(await echo(bobWs, "still open")).toBe("still open");

      // Revoked while the relay could not hear it: the next snapshot carries it.
      authority.revoke("s1", "bob", revokedAt(), true);
      const bobCut = once(bobWs, "close");
      authority.accessDown = false;
      await bobCut;
      expect((await browse(port, "s1", "/x", { cookie: bob })).status).toBe(401);
      expect((await browse(port, "s1", "/x", { cookie: alice })).status).toBe(401);
    } finally {
      await relay.close();
    }
  });

  it("ends its subscription when the relay closes", async () => {
    const authority = new MemoryAuthority();
    const relay = await relayFor(authority, []);
    await vi.waitFor(() => expect(authority.openSubscriptions).toBe(1));
    // close() waits for the subscription's loop to end, so nothing of it is left running.
    await relay.close();
    expect(authority.openSubscriptions).toBe(0);
  });
});
