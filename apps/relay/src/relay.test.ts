import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { openTunnel, TUNNEL_PATH, TUNNEL_PROTOCOL, type TunnelClient } from "@drydock/tunnel";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";

import {
  browse,
  cookieFor,
  MemoryAuthority,
  scrape,
  startRelay,
  startUpstream,
  type Upstream,
} from "./__tests__/fixtures.js";
import type { Relay } from "./app.js";

let upstream: Upstream;
let relay: Relay & { port: number };
const authority = new MemoryAuthority();
const clients: TunnelClient[] = [];

function tunnel(
  sessionId: string,
  token: string,
  port = relay.port,
  target = { host: "127.0.0.1", port: upstream.port },
) {
  const client = openTunnel({
    relayUrl: `http://127.0.0.1:${port}`,
    host: `${sessionId}.localhost:${port}`,
    token,
    target,
    initialBackoffMs: 50,
    maxBackoffMs: 400,
  });
  client.on("refused", () => undefined);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  upstream = await startUpstream();
  relay = await startRelay(authority);
  authority.tokens.set("token-s1", "s1");
  authority.tokens.set("token-s2", "s2");
  await tunnel("s1", "token-s1").whenConnected();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await relay.close();
  await upstream.close();
});

/** Runs `fn` and says how many requests reached the upstream meanwhile (the relay's own readiness probes aside). */
async function upstreamSawDuring(fn: () => Promise<void>): Promise<number> {
  const before = upstream.seen.length;
  await fn();
  return upstream.seen.slice(before).filter((r) => r.url !== "/healthz").length;
}

/**
 * Waits until `read()` gives the same figure twice in a row, 200 ms apart, and returns it: a stalled stream
 * has filled every window and buffer on its way and stopped.
 */
async function steady(read: () => number): Promise<number> {
  let last = Number.NaN;
  return vi.waitFor(
    () => {
      const now = read();
      const moved = now !== last;
      last = now;
      if (moved) throw new Error(`still moving: ${now}`);
      return now;
    },
    { timeout: 10_000, interval: 200 },
  );
}

function wsRefusal(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
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

describe("access: the ticket flow", () => {
  it("redeems a ticket once for an HttpOnly, SameSite, host-only cookie and redirects into the IDE", async () => {
    authority.issue("good-ticket", "s1");
    const answer = await browse(
      relay.port,
      "s1",
      "/__drydock/redeem?ticket=good-ticket&next=/%3Ffolder%3D/work",
    );
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe("/?folder=/work");
    const setCookie = answer.headers["set-cookie"]?.[0] ?? "";
    expect(setCookie).toMatch(/^drydock_ide=v1\.s1\./);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Domain=/i);
    const cookie = setCookie.split(";")[0]!;
    const through = await browse(relay.port, "s1", "/hello", { cookie: `${cookie}; theirs=1` });
    expect(through.status).toBe(200);
    // The IDE sees its own cookies, never the relay's.
    expect(JSON.parse(through.body)).toEqual({ url: "/hello", cookie: "theirs=1" });
  });

  it.each([
    ["another host", "//evil.example/"],
    ["a tab that browsers drop (/\t/ is //)", "/%09/evil.example/"],
    ["a line break that would end the header", "/%0d%0aSet-Cookie:%20planted=1"],
    ["a backslash", "/%5Cevil.example/"],
    ["an absolute URL", "http://evil.example/"],
  ])("refuses a next leading to %s with 400, before spending the ticket", async (_name, next) => {
    authority.issue(`next-ticket-${next}`, "s1");
    const link = `/__drydock/redeem?ticket=${encodeURIComponent(`next-ticket-${next}`)}`;
    const refused = await browse(relay.port, "s1", `${link}&next=${next}`);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/next=.* is refused/);
    expect(refused.headers["set-cookie"]).toBeUndefined();
    // The ticket was not spent: the same link with a good next still signs in.
    const good = await browse(relay.port, "s1", `${link}&next=/%3Ffolder%3D/work`);
    expect(good.status).toBe(303);
    expect(good.headers.location).toBe("/?folder=/work");
  });

  const refusals: [string, () => Promise<{ status: number }>, number][] = [
    ["no cookie at all", () => browse(relay.port, "s1", "/secret"), 401],
    ["a redeem link without a ticket", () => browse(relay.port, "s1", "/__drydock/redeem"), 401],
    ["an unknown ticket", () => browse(relay.port, "s1", "/__drydock/redeem?ticket=made-up"), 401],
    [
      "a stale ticket",
      async () => {
        authority.issue("stale", "s1", -1_000);
        return browse(relay.port, "s1", "/__drydock/redeem?ticket=stale");
      },
      401,
    ],
    [
      "a reused ticket",
      async () => {
        authority.issue("once", "s1");
        expect((await browse(relay.port, "s1", "/__drydock/redeem?ticket=once")).status).toBe(303);
        return browse(relay.port, "s1", "/__drydock/redeem?ticket=once");
      },
      403,
    ],
    [
      "another session's ticket",
      async () => {
        authority.issue("for-s2", "s2");
        return browse(relay.port, "s1", "/__drydock/redeem?ticket=for-s2");
      },
      403,
    ],
    [
      "another session's cookie",
      () => browse(relay.port, "s1", "/secret", { cookie: cookieFor("s2") }),
      403,
    ],
    [
      "a cookie signed with another key",
      () =>
        browse(relay.port, "s1", "/secret", {
          cookie: cookieFor("s1", 3600, "some-other-secret-0123456789"),
        }),
      401,
    ],
    [
      "an expired cookie",
      () => browse(relay.port, "s1", "/secret", { cookie: cookieFor("s1", -10) }),
      401,
    ],
    [
      "a tampered cookie",
      () =>
        browse(relay.port, "s1", "/secret", {
          cookie: cookieFor("s1").replace("v1.s1.", "v1.s2."),
        }),
      401,
    ],
    [
      "a cross-origin POST",
      () =>
        browse(
          relay.port,
          "s1",
          "/secret",
          { cookie: cookieFor("s1"), origin: `http://localhost:8080` },
          "POST",
          "x",
        ),
      403,
    ],
    [
      "a cross-origin WebSocket upgrade",
      async () => ({
        status: await wsRefusal(`ws://127.0.0.1:${relay.port}/socket`, {
          host: `s1.localhost:${relay.port}`,
          cookie: cookieFor("s1"),
          origin: "http://localhost:8080",
        }),
      }),
      403,
    ],
    [
      "a WebSocket upgrade with no Origin",
      async () => ({
        status: await wsRefusal(`ws://127.0.0.1:${relay.port}/socket`, {
          host: `s1.localhost:${relay.port}`,
          cookie: cookieFor("s1"),
        }),
      }),
      403,
    ],
    [
      "a WebSocket upgrade with no cookie",
      async () => ({
        status: await wsRefusal(`ws://127.0.0.1:${relay.port}/socket`, {
          host: `s1.localhost:${relay.port}`,
          origin: `http://s1.localhost:${relay.port}`,
        }),
      }),
      401,
    ],
  ];
  it.each(refusals)(
    "answers %s with its status and proxies nothing",
    async (_name, attempt, status) => {
      let answer: { status: number } | undefined;
      const seen = await upstreamSawDuring(async () => {
        answer = await attempt();
      });
      expect(answer?.status).toBe(status);
      expect(seen).toBe(0);
    },
  );

  it("lets a signed-in, same-origin WebSocket through", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/socket`, {
      headers: {
        host: `s1.localhost:${relay.port}`,
        cookie: cookieFor("s1"),
        origin: `http://s1.localhost:${relay.port}`,
      },
    });
    await once(ws, "open");
    ws.send("ping?");
    const [data] = (await once(ws, "message")) as [Buffer];
    expect(data.toString()).toBe("ping?");
    ws.close(1000);
    expect(upstream.seen.at(-1)?.headers.cookie).toBeUndefined();
  });
});

describe("access: agent tokens", () => {
  const dial = (sessionId: string, token?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({
        host: "127.0.0.1",
        port: relay.port,
        path: TUNNEL_PATH,
        headers: {
          host: `${sessionId}.localhost:${relay.port}`,
          connection: "Upgrade",
          upgrade: TUNNEL_PROTOCOL,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      });
      req.on("upgrade", (res: IncomingMessage, socket: Socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });

  it.each([
    ["no token", "s2", undefined, 401],
    ["an unknown token", "s2", "token-nobody", 401],
    ["another attempt's token", "s2", "token-s1", 403],
  ] as const)(
    "refuses a tunnel with %s and keeps the session's own tunnel serving",
    async (_name, sessionId, token, status) => {
      expect(await dial(sessionId, token)).toBe(status);
      expect(relay.tunnels.get("s2")).toBeUndefined();
      expect(relay.tunnels.get("s1")?.closed).toBe(false);
      expect((await browse(relay.port, "s1", "/still", { cookie: cookieFor("s1") })).status).toBe(
        200,
      );
    },
  );

  it("a refused agent stops dialling instead of hammering the relay", async () => {
    // The client's backoff runs on these timers: once refused, however long passes, it must not dial again.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const client = tunnel("s2", "token-s1");
      const retries: string[] = [];
      client.on("retrying", (reason) => retries.push(reason));
      const [error] = (await once(client, "refused")) as [Error & { status: number }];
      expect(error.status).toBe(403);
      const calls = authority.calls;
      vi.advanceTimersByTime(60_000);
      expect(retries).toEqual([]);
      expect(authority.calls).toBe(calls);
      expect(client.state).toBe("refused");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("resilience", () => {
  afterEach(() => {
    authority.tokens.delete("token-s3");
  });

  it("answers 'reconnecting' (503, Retry-After) while a session's agent is away, and serves as soon as it is back", async () => {
    authority.tokens.set("token-s3", "s3");
    const away = await browse(relay.port, "s3", "/", { cookie: cookieFor("s3") });
    expect(away.status).toBe(503);
    expect(away.headers["retry-after"]).toBe("2");
    expect(away.body).toMatch(/reconnecting/);
    // A request that arrives while the agent is dialling waits for it instead of failing.
    const pending = browse(relay.port, "s3", "/waited", { cookie: cookieFor("s3") });
    const client = tunnel("s3", "token-s3");
    const served = await pending;
    expect(served.status).toBe(200);
    expect((JSON.parse(served.body) as { url: string }).url).toBe("/waited");
    await client.close();
  });

  it("replaces a session's tunnel when its agent connects again", async () => {
    authority.tokens.set("token-s3", "s3");
    const first = tunnel("s3", "token-s3");
    await first.whenConnected();
    const firstTunnel = relay.tunnels.get("s3");
    const second = tunnel("s3", "token-s3");
    await second.whenConnected();
    await vi.waitFor(() => expect(firstTunnel?.closed).toBe(true));
    expect(relay.tunnels.get("s3")).not.toBe(firstTunnel);
    // The replaced client was told so and stops, instead of replacing the newer one in turn.
    await vi.waitFor(() => expect(first.state).toBe("refused"));
    expect(second.state).toBe("connected");
    expect((await browse(relay.port, "s3", "/again", { cookie: cookieFor("s3") })).status).toBe(
      200,
    );
    await first.close();
    await second.close();
  });

  it("fuzz: random and truncated frames from a fake agent close that tunnel only", async () => {
    authority.tokens.set("token-s4", "s4");
    const fuzzRelay = await startRelay(authority, { pingIntervalMs: 200 });
    try {
      await tunnel("s1", "token-s1", fuzzRelay.port).whenConnected();
      // A seeded generator, so a failure can be replayed.
      let seed = 0x2545f491;
      const random = (n: number) => {
        const out = Buffer.alloc(n);
        for (let i = 0; i < n; i++) {
          seed ^= seed << 13;
          seed ^= seed >>> 17;
          seed ^= seed << 5;
          out[i] = seed & 0xff;
        }
        return out;
      };
      const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]); // an empty SETTINGS frame: a valid server preface
      const cases: [string, Buffer[]][] = [
        ["random bytes", [random(512)]],
        ["random bytes after a valid preface", [settings, random(2048)]],
        [
          "a frame larger than the maximum frame size",
          [settings, Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1]), random(1024)],
        ],
        [
          "a DATA frame on a stream that was never opened",
          [settings, Buffer.from([0, 0, 4, 0, 0, 0, 0, 0, 99]), Buffer.from("oops")],
        ],
        [
          "a truncated frame, then silence",
          [settings, Buffer.from([0, 0, 100, 0, 0, 0, 0, 0, 0]), random(10)],
        ],
        ["a truncated frame header, then silence", [settings, Buffer.from([0, 0, 8])]],
      ];
      for (const [name, chunks] of cases) {
        const socket = connect(fuzzRelay.port, "127.0.0.1");
        await once(socket, "connect");
        socket.write(
          `GET ${TUNNEL_PATH} HTTP/1.1\r\nHost: s4.localhost:${fuzzRelay.port}\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_PROTOCOL}\r\nAuthorization: Bearer token-s4\r\n\r\n`,
        );
        await once(socket, "data"); // the 101 (and the relay's preface)
        for (const chunk of chunks) socket.write(chunk);
        socket.on("error", () => undefined);
        socket.resume();
        const closedBy = await Promise.race([
          once(socket, "close").then(() => "relay"),
          new Promise((r) => setTimeout(() => r("nobody"), 3_000)),
        ]);
        expect(closedBy, name).toBe("relay");
        expect(fuzzRelay.tunnels.get("s4"), name).toBeUndefined();
        const other = await browse(fuzzRelay.port, "s1", "/after-fuzz", {
          cookie: cookieFor("s1"),
        });
        expect(other.status, name).toBe(200);
      }
      const metrics = await scrape(fuzzRelay.port);
      expect(metrics).toMatch(/drydock_relay_tunnel_closes_total\{cause="protocol_error"\} [1-9]/);
      expect(metrics).toMatch(/drydock_relay_tunnel_closes_total\{cause="ping_timeout"\} [1-9]/);
    } finally {
      await fuzzRelay.close();
    }
  });

  // How soon it is back is a figure of the relay bench ("agent back after a relay restart").
  it("an agent connects again when its relay restarts on the same port, and requests flow", async () => {
    authority.tokens.set("token-s5", "s5");
    const first = await startRelay(authority);
    const port = first.port;
    const client = tunnel("s5", "token-s5", port);
    await client.whenConnected();
    await first.close();
    await once(client, "disconnected");
    const second = await startRelay(authority, { port });
    try {
      await client.whenConnected();
      expect(second.tunnels.get("s5")?.closed).toBe(false);
      const answer = await browse(port, "s5", "/after-restart", { cookie: cookieFor("s5") });
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { url: string }).url).toBe("/after-restart");
    } finally {
      await client.close();
      await second.close();
    }
  });
});

describe("the connection path", () => {
  /** Writes raw bytes on one connection and collects what comes back until the relay has answered `count` times. */
  async function exchange(
    port: number,
    requests: string,
    until: (text: string) => boolean,
  ): Promise<string> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(requests);
    let text = "";
    socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
    await new Promise<void>((resolve, reject) => {
      const check = () => (until(text) ? resolve() : undefined);
      socket.on("data", check);
      socket.on("close", () =>
        until(text) ? resolve() : reject(new Error(`connection closed after:\n${text}`)),
      );
    });
    socket.destroy();
    return text;
  }
  const host = (session: string | null) =>
    session ? `${session}.localhost:${relay.port}` : `localhost:${relay.port}`;
  const bodies = (text: string) =>
    [...text.matchAll(/\{"url":"[^"]*","cookie":[^}]*\}/g)].map(
      (m) => JSON.parse(m[0]) as { url: string; cookie: string | null },
    );

  it("streams 100 MB up and 100 MB down through the relay with matching checksums", async () => {
    const size = 100 * 1024 * 1024;
    const block = Buffer.alloc(64 * 1024, 7);
    const expected = createHash("sha256");
    for (let left = size; left > 0; left -= block.length)
      expected.update(left >= block.length ? block : block.subarray(0, left));
    const digest = expected.digest("hex");
    const cookie = cookieFor("s1");
    const up = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: relay.port,
          method: "POST",
          path: "/sink",
          agent: false,
          headers: { host: host("s1"), cookie, "content-length": String(size) },
        },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve(text));
        },
      );
      req.on("error", reject);
      let left = size;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, block.length);
          left -= n;
          if (!req.write(n === block.length ? block : block.subarray(0, n)))
            return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    expect(JSON.parse(up)).toEqual({ bytes: size, sha256: digest });
    const down = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      request(
        {
          host: "127.0.0.1",
          port: relay.port,
          path: `/bytes?n=${size}`,
          agent: false,
          headers: { host: host("s1"), cookie },
        },
        (res) => {
          const hash = createHash("sha256");
          let bytes = 0;
          res.on("data", (c: Buffer) => {
            hash.update(c);
            bytes += c.length;
          });
          res.on("end", () => resolve({ bytes, sha256: hash.digest("hex") }));
        },
      )
        .on("error", reject)
        .end();
    });
    expect(down).toEqual({ bytes: size, sha256: digest });
  }, 60_000);

  it("carries 200 connections at once over the session's one tunnel", async () => {
    const tunnelBefore = relay.tunnels.get("s1");
    const cookie = cookieFor("s1");
    const answers = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          new Promise<string>((resolve, reject) => {
            request(
              {
                host: "127.0.0.1",
                port: relay.port,
                path: `/slow?i=${i}`,
                agent: false,
                headers: { host: host("s1"), cookie },
              },
              (res) => {
                let text = "";
                res.on("data", (c: Buffer) => (text += c.toString()));
                res.on("end", () => resolve(text));
              },
            )
              .on("error", reject)
              .end();
          }),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => `slow ${i}`));
    expect(relay.tunnels.get("s1")).toBe(tunnelBefore);
  });

  it("answers a browser that half-closes after its last request", async () => {
    const socket = connect(relay.port, "127.0.0.1");
    await once(socket, "connect");
    socket.end(`GET /last HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\n\r\n`);
    let text = "";
    socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
    await once(socket, "close");
    expect(bodies(text).map((b) => b.url)).toEqual(["/last"]);
  });

  it("serves pipelined requests on one connection in order, each checked", async () => {
    const cookie = cookieFor("s1");
    const text = await exchange(
      relay.port,
      [1, 2, 3]
        .map(
          (i) =>
            `GET /p${i} HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookie}; mine=${i}\r\n\r\n`,
        )
        .join(""),
      (t) => bodies(t).length === 3,
    );
    expect(bodies(text)).toEqual([1, 2, 3].map((i) => ({ url: `/p${i}`, cookie: `mine=${i}` })));
  });

  it("re-frames a chunked body, so the IDE reads exactly the body the relay checked", async () => {
    const seenBefore = upstream.seen.length;
    const text = await exchange(
      relay.port,
      `POST /chunked HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n` +
        `GET /after HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\n\r\n`,
      (t) => bodies(t).length === 2,
    );
    expect(bodies(text).map((b) => b.url)).toEqual(["/chunked", "/after"]);
    expect(
      upstream.seen
        .slice(seenBefore)
        .filter((r) => r.url !== "/healthz")
        .map((r) => `${r.method} ${r.url} ${r.headers["transfer-encoding"] ?? ""}`),
    ).toEqual(["POST /chunked chunked", "GET /after "]);
  });

  it("refuses a request with both Content-Length and Transfer-Encoding, and proxies nothing", async () => {
    const seen = await upstreamSawDuring(async () => {
      const text = await exchange(
        relay.port,
        `POST /smuggle HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: ${host("s1")}\r\n\r\n`,
        (t) => t.includes("\r\n\r\n"),
      );
      expect(text).toMatch(/^HTTP\/1.1 400 /);
    });
    expect(seen).toBe(0);
  });

  it("refuses a Transfer-Encoding other than chunked, and proxies nothing", async () => {
    const seen = await upstreamSawDuring(async () => {
      const text = await exchange(
        relay.port,
        `POST /gz HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
        (t) => t.includes("\r\n\r\n"),
      );
      expect(text).toMatch(/^HTTP\/1.1 400 /);
    });
    expect(seen).toBe(0);
  });

  it("checks every request, not just a connection's first", async () => {
    const seen = await upstreamSawDuring(async () => {
      const text = await exchange(
        relay.port,
        `GET /first HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\n\r\nGET /second HTTP/1.1\r\nHost: ${host("s1")}\r\n\r\n`,
        (t) => / 401 /.test(t),
      );
      expect(bodies(text).map((b) => b.url)).toEqual(["/first"]);
      expect(text).toMatch(/HTTP\/1.1 401 Unauthorized[\s\S]*not signed in/);
    });
    expect(seen).toBe(1);
  });

  it("hands a connection that changes session or asks for the relay's own routes to the relay's server", async () => {
    // What a load balancer that pools connections does: several sessions, and the relay's routes, on one.
    const text = await exchange(
      relay.port,
      `GET /one HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\n\r\n` +
        `GET /healthz HTTP/1.1\r\nHost: ${host(null)}\r\n\r\n` +
        `GET /two HTTP/1.1\r\nHost: ${host("s1")}\r\nCookie: ${cookieFor("s1")}\r\n\r\n`,
      (t) => bodies(t).length === 2,
    );
    expect(bodies(text).map((b) => b.url)).toEqual(["/one", "/two"]);
    expect(text).toContain('"ok":true');
  });
});

describe("TLS", () => {
  it("carries the tunnel and the browser over TLS, with a Secure cookie", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drydock-relay-tls-"));
    try {
      execFileSync(
        "openssl",
        [
          ...[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
          ],
          ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
          ...["-addext", "subjectAltName=DNS:localhost,DNS:*.localhost,IP:127.0.0.1"],
        ],
        { stdio: "ignore" },
      );
      const ca = readFileSync(join(dir, "cert.pem"));
      const secure = await startRelay(authority, {
        tlsCertFile: join(dir, "cert.pem"),
        tlsKeyFile: join(dir, "key.pem"),
      });
      expect(secure.ideOrigin()).toBe(`https://localhost:${secure.port}`);
      const client = openTunnel({
        relayUrl: `https://127.0.0.1:${secure.port}`,
        host: `s1.localhost:${secure.port}`,
        token: "token-s1",
        target: { host: "127.0.0.1", port: upstream.port },
        tls: { ca },
      });
      try {
        await client.whenConnected();
        authority.issue("tls-ticket", "s1");
        const get = (path: string, headers: Record<string, string> = {}) =>
          new Promise<IncomingMessage>((resolve, reject) => {
            const req = httpsRequest(
              {
                host: "127.0.0.1",
                port: secure.port,
                path,
                ca,
                servername: "localhost",
                headers: { host: `s1.localhost:${secure.port}`, ...headers },
              },
              resolve,
            );
            req.on("error", reject);
            req.end();
          });
        const redeemed = await get("/__drydock/redeem?ticket=tls-ticket");
        redeemed.resume();
        const setCookie = redeemed.headers["set-cookie"]?.[0] ?? "";
        expect(setCookie).toMatch(/; Secure/);
        const through = await get("/over-tls", { cookie: setCookie.split(";")[0] ?? "" });
        let body = "";
        for await (const chunk of through) body += (chunk as Buffer).toString();
        expect((JSON.parse(body) as { url: string }).url).toBe("/over-tls");
      } finally {
        await client.close();
        await secure.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("flow control", () => {
  // The other stream's time and the relay's memory meanwhile are figures of the relay bench ("stalled stream").
  it("a stalled browser does not hold up another stream, and nothing buffers without bound meanwhile", async () => {
    const cookie = cookieFor("s1");
    // Stream A: an endless download its reader never reads.
    const stalled = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: relay.port,
          path: "/infinite",
          headers: { host: `s1.localhost:${relay.port}`, cookie },
        },
        resolve,
      );
      req.on("error", reject);
      req.end();
    });
    stalled.pause();
    const sentWhenStalled = await steady(() => upstream.infiniteSent());

    // Stream B: 32 MB through the same tunnel meanwhile.
    const other = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: relay.port,
          path: `/bytes?n=${32 * 1024 * 1024}`,
          headers: { host: `s1.localhost:${relay.port}`, cookie },
        },
        (res) => {
          let n = 0;
          res.on("data", (c: Buffer) => (n += c.length));
          res.on("end", () => resolve(n));
        },
      );
      req.on("error", reject);
      req.end();
    });
    const sentAfterOther = await steady(() => upstream.infiniteSent());

    expect(other).toBe(32 * 1024 * 1024);
    // The stalled stream is held back by flow control all the way to the upstream: it could send only what
    // the windows and socket buffers along the way hold, and it sends nothing more while stalled.
    expect(sentWhenStalled).toBeLessThan(48 * 1024 * 1024);
    expect(sentAfterOther - sentWhenStalled).toBeLessThan(4 * 1024 * 1024);
    stalled.destroy();
  });
});

describe("readiness", () => {
  it("tells the control plane a session is ready once its IDE answers through the tunnel, and not before", async () => {
    authority.tokens.set("token-s6", "s6");
    const down = await startUpstream();
    const port = down.port;
    await down.close();
    // An agent whose IDE is not answering yet: connected, but not ready.
    const early = openTunnel({
      relayUrl: `http://127.0.0.1:${relay.port}`,
      host: `s6.localhost:${relay.port}`,
      token: "token-s6",
      target: { host: "127.0.0.1", port },
    });
    clients.push(early);
    await early.whenConnected();
    // Each probe is a stream the agent opens; a second one means the first was answered (502) and did not count.
    await vi.waitFor(() => expect(early.activity().opened).toBeGreaterThanOrEqual(2), {
      timeout: 5_000,
    });
    expect(authority.ready).not.toContain("s6");
    await early.close();
    const ready = tunnel("s6", "token-s6");
    await ready.whenConnected();
    await vi.waitFor(() => expect(authority.ready).toContain("s6"), { timeout: 5_000 });
    expect(upstream.seen.some((r) => r.url === "/healthz")).toBe(true);
    await ready.close();
  });
});

describe("operations", () => {
  it("serves health and Prometheus metrics on the relay's own host, never on a session's", async () => {
    const health = await browse(relay.port, null, "/healthz");
    expect(JSON.parse(health.body)).toMatchObject({ ok: true });
    const metrics = await scrape(relay.port);
    expect(metrics).toMatch(/^drydock_relay_tunnels \d+$/m);
    expect(metrics).toMatch(/drydock_relay_tunnel_bytes_total\{direction="from_agent"\} [1-9]/);
    expect(metrics).toMatch(
      /drydock_relay_requests_total\{kind="http",outcome="forwarded"\} [1-9]/,
    );
    expect(metrics).toMatch(/drydock_relay_tunnel_connects_total\{result="forbidden"\} [1-9]/);
    expect(metrics).toMatch(/^drydock_relay_pending_connections \d+$/m);
    const onSession = await browse(relay.port, "s1", "/metrics", { cookie: cookieFor("s1") });
    expect((JSON.parse(onSession.body) as { url: string }).url).toBe("/metrics");
  });

  it("limits how many connections one session holds", async () => {
    const tight = await startRelay(authority, { maxStreamsPerSession: 1 });
    const client = tunnel("s1", "token-s1", tight.port);
    await client.whenConnected();
    try {
      const cookie = cookieFor("s1");
      const hog = await new Promise<IncomingMessage>((resolve) => {
        request(
          {
            host: "127.0.0.1",
            port: tight.port,
            path: "/infinite",
            headers: { host: `s1.localhost:${tight.port}`, cookie },
          },
          resolve,
        ).end();
      });
      hog.pause();
      const refused = await browse(tight.port, "s1", "/one-more", { cookie });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatch(/already has 1 connections/);
      hog.destroy();
    } finally {
      await client.close();
      await tight.close();
    }
  });
});
