import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { Agent, createServer, request, type IncomingMessage, type Server } from "node:http";
import {
  connect as netConnect,
  createServer as netCreateServer,
  type AddressInfo,
  type Socket,
} from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket, WebSocketServer } from "ws";

import {
  openTunnel,
  RelayTunnel,
  TUNNEL_PATH,
  TUNNEL_PROTOCOL,
  type TunnelClient,
} from "./index.js";
import { answerWithBodyDigest } from "./testing.js";

/** A test upstream: echoes, sinks and sources bodies, streams chunks and server-sent events, echoes WebSockets. */
function startUpstream(): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/echo") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.setHeader("set-cookie", ["a=1", "b=2"]);
        res.setHeader("x-upstream", "yes");
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
    } else if (url.pathname === "/sink") {
      answerWithBodyDigest(req, res);
    } else if (url.pathname === "/source") {
      const total = Number(url.searchParams.get("bytes"));
      const seed = Number(url.searchParams.get("seed") ?? 1);
      res.setHeader("content-length", total);
      void pipeline(deterministic(total, seed), res).catch(() => undefined);
    } else if (url.pathname === "/chunked") {
      res.setHeader("content-type", "text/plain");
      let n = 0;
      const tick = setInterval(() => {
        res.write(`chunk ${n}\n`);
        if (++n === 5) {
          clearInterval(tick);
          res.end();
        }
      }, 5);
    } else if (url.pathname === "/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let n = 0;
      const tick = setInterval(() => {
        res.write(`id: ${n}\ndata: event ${n}\n\n`);
        if (++n === 3) clearInterval(tick);
      }, 20);
      req.on("close", () => clearInterval(tick));
    } else if (url.pathname === "/slow") {
      setTimeout(() => res.end(`slow ${url.searchParams.get("i")}`), 50);
    } else {
      res.writeHead(404).end("no such thing");
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws, req) => {
    seen.push(`WS ${req.url}`);
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : (data as Buffer).toString();
      if (text.startsWith("close:")) ws.close(Number(text.slice(6)), "asked to");
      else ws.send(data, { binary: isBinary });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, port: (server.address() as AddressInfo).port, seen }),
    ),
  );
}

/** Bytes from a seeded generator, so both ends can checksum without holding 100 MB. */
function deterministic(total: number, seed: number): Readable {
  const block = createHash("sha512").update(String(seed)).digest();
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i += block.length) block.copy(chunk, i);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

async function sha256Of(stream: Readable): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const c of stream) {
    hash.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { bytes, sha256: hash.digest("hex") };
}

/** The least relay that uses the package: one tunnel, everything else forwarded through it. */
function startMiniRelay(
  options: { pingIntervalMs?: number } = {},
): Promise<{ server: Server; port: number; tunnels: RelayTunnel[] }> {
  const tunnels: RelayTunnel[] = [];
  const current = () => tunnels.findLast((t) => !t.closed);
  const server = createServer((req, res) => {
    const tunnel = current();
    if (!tunnel) res.writeHead(503).end("no tunnel");
    else tunnel.forwardRequest(req, res);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (req.url === TUNNEL_PATH && req.headers.upgrade === TUNNEL_PROTOCOL) {
      void RelayTunnel.accept(socket, head, {
        ...options,
        rewriteRequestHeader: (name, value) => (name === "x-relay-secret" ? null : value),
      }).then((t) => tunnels.push(t));
      return;
    }
    const tunnel = current();
    if (!tunnel) socket.destroy();
    else tunnel.forwardUpgrade(req, socket, head);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, port: (server.address() as AddressInfo).port, tunnels }),
    ),
  );
}

function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Readable | string,
) {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, resolve);
    req.on("error", reject);
    if (body === undefined) req.end();
    else if (typeof body === "string") req.end(body);
    else body.pipe(req);
  });
}

async function text(res: IncomingMessage): Promise<string> {
  let out = "";
  for await (const c of res) out += (c as Buffer).toString();
  return out;
}

describe("a tunnel between a relay and an agent", () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let relay: Awaited<ReturnType<typeof startMiniRelay>>;
  let client: TunnelClient;

  beforeAll(async () => {
    upstream = await startUpstream();
    relay = await startMiniRelay();
    client = openTunnel({
      relayUrl: `http://127.0.0.1:${relay.port}`,
      host: "s1.localhost",
      token: "t",
      target: { host: "127.0.0.1", port: upstream.port },
    });
    await client.whenConnected();
  });

  afterAll(async () => {
    await client.close();
    relay.tunnels.forEach((t) => t.close());
    await new Promise((r) => relay.server.close(r));
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
  });

  it.each(["GET", "POST", "PUT", "DELETE", "PATCH"])(
    "carries a %s with its headers and body, and the response's headers back",
    async (method) => {
      const body = method === "GET" || method === "DELETE" ? undefined : `payload of ${method}`;
      const res = await call(
        relay.port,
        method,
        "/echo?x=1&y=%20",
        { "x-custom": "kept", "x-relay-secret": "dropped", Cookie: "c=1" },
        body,
      );
      const echoed = JSON.parse(await text(res)) as {
        method: string;
        url: string;
        headers: Record<string, string>;
        body: string;
      };
      expect(res.statusCode).toBe(200);
      expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
      expect(res.headers["x-upstream"]).toBe("yes");
      expect(echoed.method).toBe(method);
      expect(echoed.url).toBe("/echo?x=1&y=%20");
      expect(echoed.headers["x-custom"]).toBe("kept");
      expect(echoed.headers.cookie).toBe("c=1");
      expect(echoed.headers.host).toBe(`127.0.0.1:${relay.port}`);
      expect(echoed.headers["x-relay-secret"]).toBeUndefined();
      expect(echoed.body).toBe(body ?? "");
    },
  );

  it("keeps one tunnel through thousands of requests in a row (no stream reset per finished request)", async () => {
    const before = relay.tunnels.filter((t) => !t.closed).length;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 2_500; i++) {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        request(
          { host: "127.0.0.1", port: relay.port, path: `/echo?i=${i}`, agent: keepAlive },
          resolve,
        )
          .on("error", reject)
          .end();
      });
      expect(res.statusCode).toBe(200);
      res.resume();
      await once(res, "end");
    }
    keepAlive.destroy();
    expect(relay.tunnels.filter((t) => !t.closed).length).toBe(before);
    expect(client.state).toBe("connected");
  }, 60_000);

  it("answers HEAD with headers only", async () => {
    const res = await call(relay.port, "HEAD", `/source?bytes=1000`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-length"]).toBe("1000");
    expect(await text(res)).toBe("");
  });

  it("passes the upstream's status codes and bodies through", async () => {
    const res = await call(relay.port, "GET", "/missing");
    expect(res.statusCode).toBe(404);
    expect(await text(res)).toBe("no such thing");
  });

  it("streams 100 MB up and 100 MB down with matching checksums", async () => {
    const size = 100 * 1024 * 1024;
    const expected = await sha256Of(deterministic(size, 7));
    const up = await call(
      relay.port,
      "POST",
      "/sink",
      { "content-type": "application/octet-stream" },
      deterministic(size, 7),
    );
    expect(JSON.parse(await text(up))).toEqual(expected);
    const down = await call(relay.port, "GET", `/source?bytes=${size}&seed=7`);
    expect(down.headers["content-length"]).toBe(String(size));
    expect(await sha256Of(down)).toEqual(expected);
  }, 60_000);

  it("delivers a chunked response chunk by chunk", async () => {
    const res = await call(relay.port, "GET", "/chunked");
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    const chunks: string[] = [];
    for await (const c of res) chunks.push((c as Buffer).toString());
    expect(chunks.join("")).toBe([0, 1, 2, 3, 4].map((n) => `chunk ${n}\n`).join(""));
    expect(chunks.length).toBeGreaterThan(1);
  });

  it("delivers server-sent events as they happen", async () => {
    const res = await call(relay.port, "GET", "/events");
    expect(res.headers["content-type"]).toBe("text/event-stream");
    const arrivals: string[] = [];
    for await (const c of res) {
      arrivals.push((c as Buffer).toString());
      if (arrivals.join("").includes("event 2")) break;
    }
    expect(arrivals.join("")).toContain("id: 0\ndata: event 0\n\n");
    // Each event crossed on its own, 20 ms apart, not all at the end.
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
  });

  it("echoes WebSocket text and binary, answers pings and passes close codes", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/socket?x=1`);
    await once(ws, "open");
    ws.send("hello");
    const [textMessage, textIsBinary] = (await once(ws, "message")) as [Buffer, boolean];
    expect(textMessage.toString()).toBe("hello");
    expect(textIsBinary).toBe(false);
    const binary = randomBytes(70_000);
    ws.send(binary);
    const [binaryMessage, binaryIsBinary] = (await once(ws, "message")) as [Buffer, boolean];
    expect(binaryIsBinary).toBe(true);
    expect(Buffer.compare(binaryMessage, binary)).toBe(0);
    ws.ping(Buffer.from("are you there"));
    const [pong] = (await once(ws, "pong")) as [Buffer];
    expect(pong.toString()).toBe("are you there");
    ws.send("close:4001");
    const [code, reason] = (await once(ws, "close")) as [number, Buffer];
    expect(code).toBe(4001);
    expect(reason.toString()).toBe("asked to");
    expect(upstream.seen).toContain("WS /socket?x=1");
  });

  it("carries 200 concurrent requests over the one tunnel", async () => {
    const before = relay.tunnels.length;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => call(relay.port, "GET", `/slow?i=${i}`).then(text)),
    );
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => `slow ${i}`));
    expect(relay.tunnels.length).toBe(before);
  });

  it("reports an upstream that is not listening as 502", async () => {
    const other = openTunnel({
      relayUrl: `http://127.0.0.1:${relay.port}`,
      host: "s2.localhost",
      token: "t",
      target: { host: "127.0.0.1", port: 1 },
    });
    await other.whenConnected();
    try {
      const res = await call(relay.port, "GET", "/anything");
      expect(res.statusCode).toBe(502);
      expect(await text(res)).toMatch(/not answering: connect ECONNREFUSED/);
    } finally {
      await other.close();
    }
  });
});

/** A TCP relay between two ends that can go silent (reads nothing, forwards nothing), as a dead peer or a broken path does. */
function startFreezableProxy(
  targetPort: number,
): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server = netCreateServer((inbound) => {
    const outbound = netConnect(targetPort, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    inbound.on("data", (d) => frozen || outbound.write(d));
    outbound.on("data", (d) => frozen || inbound.write(d));
    // A frozen path carries nothing, a close included: each end must find out by itself.
    inbound.on("close", () => frozen || outbound.destroy());
    outbound.on("close", () => frozen || inbound.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        freeze: () => (frozen = true),
        close: async () => {
          for (const s of sockets) s.destroy();
          await new Promise((r) => server.close(r));
        },
      }),
    ),
  );
}

describe("a tunnel's life", () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let relay: Awaited<ReturnType<typeof startMiniRelay>>;

  beforeAll(async () => {
    upstream = await startUpstream();
    relay = await startMiniRelay({ pingIntervalMs: 300 });
  });

  afterAll(async () => {
    relay.tunnels.forEach((t) => t.close());
    await new Promise((r) => relay.server.close(r));
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
  });

  const open = (port: number, extra: Partial<Parameters<typeof openTunnel>[0]> = {}) =>
    openTunnel({
      relayUrl: `http://127.0.0.1:${port}`,
      host: "s1.localhost",
      token: "t",
      target: { host: "127.0.0.1", port: upstream.port },
      ...extra,
    });

  it("stays up past its silence timeout while busy and while idle, as long as both ends answer", async () => {
    const client = open(relay.port, { silenceTimeoutMs: 1_000, pingIntervalMs: 300 });
    const drops: string[] = [];
    client.on("disconnected", (reason) => drops.push(reason));
    try {
      await client.whenConnected();
      const tunnel = relay.tunnels.at(-1) as RelayTunnel;
      // Busy: a WebSocket echo every 50 ms for 3 s (three silence timeouts), all of it through the tunnel.
      const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/typing`);
      await once(ws, "open");
      const closed = once(ws, "close");
      for (const started = Date.now(); Date.now() - started < 3_000 && drops.length === 0;) {
        ws.send("k");
        await Promise.race([new Promise((r) => ws.once("message", r)), closed]);
        await new Promise((r) => setTimeout(r, 50));
      }
      ws.close();
      // Idle: nothing but PINGs for another three silence timeouts. Wall-clock on purpose, like the busy part:
      // the failure this guards against is a socket idle timer, which runs on Node's own clock, not on fake timers.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(drops).toEqual([]);
      expect(tunnel.closed).toBe(false);
      expect(client.state).toBe("connected");
    } finally {
      await client.close();
    }
  }, 20_000);

  it("notices a dead peer by its unanswered PINGs at both ends, and the agent dials again", async () => {
    const proxy = await startFreezableProxy(relay.port);
    const client = open(proxy.port, {
      pingIntervalMs: 300,
      silenceTimeoutMs: 60_000,
      initialBackoffMs: 10_000,
    });
    try {
      await client.whenConnected();
      const tunnel = relay.tunnels.at(-1) as RelayTunnel;
      const relaySaw = once(tunnel, "close") as Promise<[string]>;
      const frozenAt = Date.now();
      proxy.freeze();
      // Each end names its unanswered PING, long before the 60 s silence timeout could have fired.
      const [reason] = (await once(client, "disconnected")) as [string];
      expect(reason).toMatch(/PING/);
      const [relayReason] = await relaySaw;
      expect(relayReason).toMatch(/PING/);
      expect(Date.now() - frozenAt).toBeLessThan(5_000);
      expect(client.state).toBe("reconnecting");
    } finally {
      await client.close();
      await proxy.close();
    }
  }, 10_000);

  it("closes the browser's connection at once when the tunnel dies mid-download, and the next request succeeds", async () => {
    const client = open(relay.port);
    try {
      await client.whenConnected();
      const tunnel = relay.tunnels.at(-1) as RelayTunnel;
      const res = await call(relay.port, "GET", `/source?bytes=${200 * 1024 * 1024}`);
      expect(res.statusCode).toBe(200);
      // Read slowly, so the download is in flight when the tunnel goes.
      res.pause();
      await vi.waitFor(() => expect(res.readableLength).toBeGreaterThan(0));
      const killedAt = Date.now();
      const ended = new Promise<number>((resolve) =>
        res.socket.once("close", () => resolve(Date.now() - killedAt)),
      );
      tunnel.close("killed by the test");
      res.resume();
      expect(await ended).toBeLessThan(1_000);
      await client.whenConnected();
      await vi.waitFor(() => expect(relay.tunnels.some((t) => !t.closed)).toBe(true), {
        timeout: 5_000,
      });
      const again = await call(relay.port, "GET", "/echo");
      expect(again.statusCode).toBe(200);
      await text(again);
    } finally {
      await client.close();
    }
  }, 20_000);

  it("closes a WebSocket at once when the tunnel dies under it", async () => {
    const client = open(relay.port);
    try {
      await client.whenConnected();
      const tunnel = relay.tunnels.at(-1) as RelayTunnel;
      const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/socket`);
      await once(ws, "open");
      const killedAt = Date.now();
      const closed = once(ws, "close").then(() => Date.now() - killedAt);
      tunnel.close("killed by the test");
      expect(await closed).toBeLessThan(1_000);
    } finally {
      await client.close();
    }
  });
});
