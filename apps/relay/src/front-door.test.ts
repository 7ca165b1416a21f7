/**
 * What a connection meets before it is signed in: the ticket's redemption (answered on the fast path, its
 * connection kept), the request head's size limit and deadline, the cap on connections not signed in, the
 * guard headers on the relay's own pages, and `/metrics`' credentials.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";

import { openTunnel, TUNNEL_PATH, TUNNEL_PROTOCOL, type TunnelClient } from "@drydock/tunnel";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import {
  browse,
  cookieFor,
  MemoryAuthority,
  RELAY_TOKEN,
  scrape,
  startRelay,
  startUpstream,
  type Upstream,
} from "./__tests__/fixtures.js";
import type { Relay } from "./app.js";
import { readRelayConfig, type RelayConfigInput } from "./env.js";

let upstream: Upstream;
const authority = new MemoryAuthority();
const relays: Relay[] = [];
const clients: TunnelClient[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  authority.tokens.set("token-s1", "s1");
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(relays.map((r) => r.close()));
  await upstream.close();
});

/** A relay with session s1's tunnel connected. */
async function relayWithSession(
  overrides: Partial<RelayConfigInput> = {},
): Promise<Relay & { port: number }> {
  const relay = await startRelay(authority, overrides);
  relays.push(relay);
  const client = openTunnel({
    relayUrl: `http://127.0.0.1:${relay.port}`,
    host: `s1.localhost:${relay.port}`,
    token: "token-s1",
    target: { host: "127.0.0.1", port: upstream.port },
  });
  clients.push(client);
  await client.whenConnected();
  return relay;
}

/** One raw connection: what it received so far, a wait for what it receives next, and its closing. */
async function rawConnection(port: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  let text = "";
  socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
  const closed = once(socket, "close").then(() => undefined);
  await once(socket, "connect");
  return {
    socket,
    closed,
    received: () => text,
    until: (done: (text: string) => boolean) =>
      new Promise<string>((resolve, reject) => {
        const stuck = setTimeout(
          () => reject(new Error(`still waiting after:\n${text.slice(0, 2_000)}`)),
          4_000,
        );
        const check = () => {
          if (!done(text)) return;
          clearTimeout(stuck);
          socket.off("data", check);
          resolve(text);
        };
        socket.on("data", check);
        void closed.then(() =>
          done(text) ? resolve(text) : reject(new Error(`the connection closed after:\n${text}`)),
        );
        check();
      }),
  };
}

const bodies = (text: string) =>
  [...text.matchAll(/\{"url":"[^"]*","cookie":[^}]*\}/g)].map(
    (m) => JSON.parse(m[0]) as { url: string; cookie: string | null },
  );
const answers = (text: string) =>
  [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
const handOffs = (metrics: string) =>
  Number(/^drydock_relay_handoffs_total (\d+)$/m.exec(metrics)?.[1]);
const seenBeyondProbes = (from: number) =>
  upstream.seen.slice(from).filter((r) => r.url !== "/healthz");

describe("the ticket's redemption", () => {
  it("keeps its connection: the redirect and the IDE's first page share it, and that page takes the fast path", async () => {
    const relay = await relayWithSession();
    const host = `s1.localhost:${relay.port}`;
    authority.issue("keep-ticket", "s1");
    const before = handOffs(await scrape(relay.port));
    const conn = await rawConnection(relay.port);
    conn.socket.write(
      `GET /__drydock/redeem?ticket=keep-ticket&next=/start HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    );
    const redirect = await conn.until((t) => t.includes("\r\n\r\n"));
    expect(redirect).toMatch(/^HTTP\/1.1 303 See Other\r\n/);
    expect(redirect).toMatch(/\r\nLocation: \/start\r\n/);
    expect(redirect).toMatch(/\r\nConnection: keep-alive\r\n/);
    const cookie = /\r\nSet-Cookie: (drydock_ide=[^;]+);/.exec(redirect)?.[1] ?? "";
    expect(cookie).not.toBe("");

    conn.socket.write(`GET /start HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}\r\n\r\n`);
    const page = await conn.until((t) => bodies(t).length === 1);
    expect(bodies(page)).toEqual([{ url: "/start", cookie: null }]);
    // No connection went to the relay's HTTP server meanwhile but the scrape's own.
    expect(handOffs(await scrape(relay.port))).toBe(before + 1);
    conn.socket.destroy();
  });

  it("answers a redemption and the request pipelined behind it in order, on one connection", async () => {
    const relay = await relayWithSession();
    const host = `s1.localhost:${relay.port}`;
    authority.issue("pipelined-ticket", "s1");
    const conn = await rawConnection(relay.port);
    conn.socket.write(
      `GET /__drydock/redeem?ticket=pipelined-ticket HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
        `GET /behind HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookieFor("s1")}\r\n\r\n`,
    );
    const text = await conn.until((t) => bodies(t).length === 1);
    expect(answers(text)).toEqual([303, 200]);
    expect(bodies(text).map((b) => b.url)).toEqual(["/behind"]);
    conn.socket.destroy();
  });

  it("closes the connection after the redirect when the browser asked to (Connection: close)", async () => {
    const relay = await relayWithSession();
    authority.issue("close-ticket", "s1");
    const conn = await rawConnection(relay.port);
    conn.socket.write(
      `GET /__drydock/redeem?ticket=close-ticket HTTP/1.1\r\nHost: s1.localhost:${relay.port}\r\nConnection: close\r\n\r\n`,
    );
    conn.socket.end();
    await conn.closed;
    expect(conn.received()).toMatch(/^HTTP\/1.1 303 [\s\S]*\r\nConnection: close\r\n/);
  });
});

describe("request heads", () => {
  const padded = (host: string, bytes: number, path = "/big") =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookieFor("s1")}\r\nX-Pad: ${"a".repeat(bytes)}\r\n\r\n`;

  it.each([
    ["in one read", 1],
    ["in 1 KB reads", 1024],
  ])("refuses a head over 16 KB %s with 431, and proxies nothing", async (_name, piece) => {
    const relay = await relayWithSession();
    const head = padded(`s1.localhost:${relay.port}`, 20 * 1024);
    const from = upstream.seen.length;
    const conn = await rawConnection(relay.port);
    conn.socket.setNoDelay(true);
    for (let at = 0; at < head.length; at += piece === 1 ? head.length : piece) {
      conn.socket.write(head.slice(at, piece === 1 ? head.length : at + piece));
      if (piece !== 1) await new Promise((resolve) => setImmediate(resolve));
    }
    const text = await conn.until((t) => t.includes("\r\n\r\n"));
    expect(text).toMatch(
      /^HTTP\/1.1 431 Request Header Fields Too Large\r\n[\s\S]*larger than the 16 KB the relay accepts/,
    );
    expect(seenBeyondProbes(from)).toEqual([]);
    conn.socket.destroy();
  });

  it("takes a head just under the limit, and does not count a body read with the next head against it", async () => {
    const relay = await relayWithSession();
    const host = `s1.localhost:${relay.port}`;
    const body = "b".repeat(60 * 1024);
    const conn = await rawConnection(relay.port);
    conn.socket.write(
      padded(host, 15 * 1024, "/under") +
        `POST /sink HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookieFor("s1")}\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        padded(host, 8 * 1024, "/after-body"),
    );
    const text = await conn.until((t) => answers(t).length === 3 && bodies(t).length === 2);
    expect(answers(text)).toEqual([200, 200, 200]);
    expect(bodies(text).map((b) => b.url)).toEqual(["/under", "/after-body"]);
    conn.socket.destroy();
  });
});

describe("connections that have not signed in", () => {
  it("are closed with 408 when their head does not arrive within the deadline, however steadily it trickles", async () => {
    const relay = await relayWithSession({ headTimeoutMs: 300 });
    const conn = await rawConnection(relay.port);
    const head = `GET / HTTP/1.1\r\nHost: s1.localhost:${relay.port}\r\nX-Slow: ${"a".repeat(10_000)}`;
    let sent = 0;
    const trickle = setInterval(() => conn.socket.write(head[sent++] ?? "a"), 20);
    await conn.closed;
    clearInterval(trickle);
    expect(conn.received()).toMatch(
      /^HTTP\/1.1 408 Request Timeout\r\n[\s\S]*no complete request head within 0.3 s/,
    );
    expect(await scrape(relay.port)).toMatch(
      /^drydock_relay_pending_closed_total\{reason="slow"\} 1$/m,
    );
  });

  it("are closed without a word when nothing at all arrives within the deadline (a browser's spare connection)", async () => {
    const relay = await relayWithSession({ headTimeoutMs: 300 });
    const conn = await rawConnection(relay.port);
    await conn.closed;
    expect(conn.received()).toBe("");
    expect(await scrape(relay.port)).toMatch(
      /^drydock_relay_pending_closed_total\{reason="idle"\} 1$/m,
    );
  });

  it("are not on the clock once signed in: an IDE's kept-alive connection outlives the deadline", async () => {
    const relay = await relayWithSession({ headTimeoutMs: 300 });
    const host = `s1.localhost:${relay.port}`;
    // The deadline is a timer the connection's arrival sets: faked from before it connects, so that three
    // deadlines can pass with the connection idle without waiting for them.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const conn = await rawConnection(relay.port);
      conn.socket.write(`GET /one HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookieFor("s1")}\r\n\r\n`);
      await conn.until((t) => bodies(t).length === 1);
      vi.advanceTimersByTime(900);
      conn.socket.write(`GET /two HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookieFor("s1")}\r\n\r\n`);
      const text = await conn.until((t) => bodies(t).length === 2);
      expect(bodies(text).map((b) => b.url)).toEqual(["/one", "/two"]);
      conn.socket.destroy();
    } finally {
      vi.useRealTimers();
    }
  });

  it.each<[string, Partial<RelayConfigInput>]>([
    ["from one address", { maxPendingPerAddress: 3 }],
    ["in all", { maxPendingConnections: 3 }],
  ])(
    "are held at most to the limit %s: the oldest makes room, and the others are still served",
    async (_name, limit) => {
      const relay = await relayWithSession(limit);
      const waiting = [];
      for (let i = 0; i < 4; i++) waiting.push(await rawConnection(relay.port));
      const [oldest, ...rest] = waiting;
      await oldest?.closed;
      expect(oldest?.received()).toBe("");
      for (const [i, conn] of rest.entries()) {
        conn.socket.write(
          `GET /still-${i} HTTP/1.1\r\nHost: s1.localhost:${relay.port}\r\nCookie: ${cookieFor("s1")}\r\n\r\n`,
        );
        expect(bodies(await conn.until((t) => bodies(t).length === 1))[0]?.url).toBe(`/still-${i}`);
        conn.socket.destroy();
      }
      expect(await scrape(relay.port)).toMatch(
        /^drydock_relay_pending_closed_total\{reason="evicted"\} [1-9]/m,
      );
    },
  );

  it("have a 10 s deadline, and hundreds of them per address, unless configured otherwise", async () => {
    const config = readRelayConfig({
      DRYDOCK_SERVER_URL: "http://127.0.0.1:9",
      DRYDOCK_RELAY_TOKEN: RELAY_TOKEN,
    });
    expect(config).toMatchObject({
      headTimeoutMs: 10_000,
      maxPendingConnections: 1_024,
      maxPendingPerAddress: 256,
    });
    const tuned = readRelayConfig({
      DRYDOCK_SERVER_URL: "http://127.0.0.1:9",
      DRYDOCK_RELAY_TOKEN: RELAY_TOKEN,
      DRYDOCK_RELAY_HEAD_TIMEOUT_MS: "2500",
      DRYDOCK_RELAY_MAX_PENDING: "50",
      DRYDOCK_RELAY_MAX_PENDING_PER_ADDRESS: "5",
    });
    expect(tuned).toMatchObject({
      headTimeoutMs: 2_500,
      maxPendingConnections: 50,
      maxPendingPerAddress: 5,
    });
  });
});

describe("the relay's own pages", () => {
  const guarded = (headers: Record<string, string | string[] | undefined>) => {
    expect(headers["content-security-policy"]).toMatch(
      /default-src 'none'.*frame-ancestors 'none'/,
    );
    expect(headers["referrer-policy"]).toBe("no-referrer");
  };
  const rawHeaders = (text: string) =>
    Object.fromEntries(
      text
        .split("\r\n\r\n")[0]!
        .split("\r\n")
        .slice(1)
        .map((line) => [
          line.slice(0, line.indexOf(":")).toLowerCase(),
          line.slice(line.indexOf(":") + 1).trim(),
        ]),
    );

  it("forbid framing, scripts and the Referer: refusals, the redirect, health, on the fast path and through fastify", async () => {
    const relay = await relayWithSession();
    authority.issue("guarded-ticket", "s1");
    authority.issue("handed-off-ticket", "s1");
    guarded((await browse(relay.port, "s1", "/secret")).headers);
    guarded((await browse(relay.port, "s1", "/__drydock/redeem")).headers);
    guarded((await browse(relay.port, "s1", "/__drydock/redeem?ticket=guarded-ticket")).headers);
    guarded((await browse(relay.port, null, "/healthz")).headers);
    // A redemption on a connection already handed to fastify (it first asked for the relay's health).
    const conn = await rawConnection(relay.port);
    conn.socket.write(
      `GET /healthz HTTP/1.1\r\nHost: localhost:${relay.port}\r\n\r\n` +
        `GET /__drydock/redeem?ticket=handed-off-ticket HTTP/1.1\r\nHost: s1.localhost:${relay.port}\r\n\r\n`,
    );
    const text = await conn.until((t) => answers(t).length === 2 && t.endsWith("\r\n\r\n"));
    const redirect = text.slice(text.lastIndexOf("HTTP/1.1 303"));
    expect(redirect).toMatch(/^HTTP\/1.1 303 /);
    guarded(rawHeaders(redirect));
    conn.socket.destroy();
    // A tunnel dial refused.
    const dial = await rawConnection(relay.port);
    dial.socket.write(
      `GET ${TUNNEL_PATH} HTTP/1.1\r\nHost: s1.localhost:${relay.port}\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_PROTOCOL}\r\n\r\n`,
    );
    guarded(rawHeaders(await dial.until((t) => t.includes("\r\n\r\n"))));
    dial.socket.destroy();
  });
});

describe("/metrics", () => {
  it("needs the metrics token or the relay token; /healthz needs nothing", async () => {
    const relay = await relayWithSession({ metricsToken: "scraper-token-0123456789" });
    const metrics = (authorization?: string) =>
      browse(relay.port, null, "/metrics", authorization ? { authorization } : {});
    const bare = await metrics();
    expect(bare.status).toBe(401);
    expect(bare.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(bare.body).toMatch(/Authorization: Bearer/);
    expect((await metrics("Bearer not-the-token-0123456789")).status).toBe(401);
    expect((await metrics("Basic c2NyYXBlcg==")).status).toBe(401);
    expect((await metrics("Bearer scraper-token-0123456789")).body).toMatch(
      /^drydock_relay_tunnels 1$/m,
    );
    expect((await metrics(`Bearer ${RELAY_TOKEN}`)).status).toBe(200);
    expect((await browse(relay.port, null, "/healthz")).status).toBe(200);
  });
});
