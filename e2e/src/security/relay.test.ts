/**
 * The relay's front door and the console's headers, probed as the security review did against a real
 * `drydock up`: slow clients that never finish a request head, a 20 KB head in one read, `next` links that
 * leave the session's origin or break the redirect, `/metrics` without credentials, pages that could be
 * framed or leak their URL; and the ticket's redirect, which used to close its connection. The probes that
 * need no IDE session run without one; the rest share one real interactive session.
 */
import { once } from "node:events";
import { readdir } from "node:fs/promises";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import type { InteractiveSession } from "@drydock/contracts";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drydock, example, launchChromium, removeStack, ROOT, startStack } from "../harness.js";
import type { Stack } from "../harness.js";
import { launchInteractivePipeline, readySession } from "../interactive-pipeline.js";
import { signInPage } from "../sign-in.js";

/** A short head deadline, so that the slow-client probes take seconds; the default (10 s) is checked apart. */
const HEAD_TIMEOUT_MS = 2_000;
const METRICS_TOKEN = "e2e-metrics-token-0123456789";

let stack: Stack;
let relayPort: number;

beforeAll(async () => {
  stack = await startStack({
    env: {
      DRYDOCK_RELAY_HEAD_TIMEOUT_MS: String(HEAD_TIMEOUT_MS),
      DRYDOCK_RELAY_METRICS_TOKEN: METRICS_TOKEN,
    },
  });
  relayPort = Number(/relay:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(stack.output())?.[1]);
});

afterAll(async () => {
  if (stack) await removeStack(stack);
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The client socket it came on, and whether that socket had carried a request before. */
  socket: Socket;
  reusedSocket: boolean;
}

/** A GET to the relay as a browser on `host` sends it (Node does not resolve `*.localhost`: the Host is set by hand). */
function relayGet(
  host: string,
  path: string,
  headers: Record<string, string> = {},
  agent: Agent | false = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: relayPort, path, agent, headers: { host, ...headers } },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            socket: req.socket as Socket,
            reusedSocket: req.reusedSocket,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const relayHost = () => `localhost:${relayPort}`;

/** The relay's Prometheus metrics, as a scraper holding the metrics token reads them. */
async function scrape(): Promise<string> {
  const answer = await relayGet(relayHost(), "/metrics", {
    authorization: `Bearer ${METRICS_TOKEN}`,
  });
  expect(answer.status, answer.body).toBe(200);
  return answer.body;
}
const metric = (text: string, line: RegExp) =>
  [...text.matchAll(new RegExp(line.source, "gm"))].reduce((sum, m) => sum + Number(m[1]), 0);

/** Writes `bytes` on a connection of its own and collects the answer until the relay closes it or `done` says so. */
async function rawExchange(bytes: string, done: (text: string) => boolean): Promise<string> {
  const socket = connect(relayPort, "127.0.0.1");
  socket.on("error", () => undefined);
  await once(socket, "connect");
  let text = "";
  const finished = new Promise<void>((resolve) => {
    socket.on("data", (c: Buffer) => {
      text += c.toString("latin1");
      if (done(text)) resolve();
    });
    socket.on("close", () => resolve());
  });
  socket.write(bytes);
  await finished;
  socket.destroy();
  return text;
}

/** The drydock up process's open file descriptors (the relay runs in it, beside the API). */
const openFds = async () => (await readdir(`/proc/${stack.process.pid}/fd`)).length;

/**
 * Connections that each send a request head one byte at a time and never finish it, as the review's probe
 * did. Remembers when each opened and closed, and what the relay said before closing it.
 */
class SlowClients {
  readonly clients: {
    socket: Socket;
    openedAt: number;
    closedAt?: number;
    received: string;
    sent: number;
  }[] = [];
  private readonly head = `GET / HTTP/1.1\r\nHost: ${relayHost()}\r\nX-Slow: ${"a".repeat(100_000)}`;
  private readonly timer: NodeJS.Timeout;

  constructor(byteEveryMs: number) {
    this.timer = setInterval(() => {
      for (const client of this.clients)
        if (client.closedAt === undefined && !client.socket.connecting)
          client.socket.write(this.head[client.sent++] ?? "a");
    }, byteEveryMs);
  }

  /** Opens `count` more, `batch` at a time. */
  async open(count: number, batch = 100): Promise<void> {
    for (let i = 0; i < count; i += batch) {
      const opening = Array.from({ length: Math.min(batch, count - i) }, () => {
        const client = {
          socket: connect(relayPort, "127.0.0.1"),
          openedAt: Date.now(),
          received: "",
          sent: 0,
        } as SlowClients["clients"][number];
        client.socket.on("error", () => undefined);
        client.socket.on("data", (c: Buffer) => (client.received += c.toString("latin1")));
        client.socket.once("close", () => (client.closedAt = Date.now()));
        this.clients.push(client);
        return Promise.race([once(client.socket, "connect"), once(client.socket, "close")]);
      });
      await Promise.all(opening);
    }
  }

  stillOpen(): number {
    return this.clients.filter((c) => c.closedAt === undefined).length;
  }

  /** Waits until all are closed, or `ms`; says how many are still open. */
  async closedWithin(ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    while (this.stillOpen() > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    return this.stillOpen();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const client of this.clients) client.socket.destroy();
  }
}

describe("slow clients (no session needed)", () => {
  it("a connection trickling its request head is closed within the head deadline (408), 300 of them at once", async () => {
    const slow = new SlowClients(200);
    try {
      await slow.open(300);
      const stillOpen = await slow.closedWithin(HEAD_TIMEOUT_MS + 3_000);
      expect(stillOpen, "connections still open 3 s after the head deadline").toBe(0);
      const lifetimes = slow.clients.map((c) => (c.closedAt ?? Date.now()) - c.openedAt);
      expect(Math.max(...lifetimes)).toBeLessThan(HEAD_TIMEOUT_MS + 3_000);
      // Those that waited their full time were told why; the rest made room for newer ones (256 per address).
      const timedOut = slow.clients.filter((c) =>
        c.received.startsWith("HTTP/1.1 408 Request Timeout"),
      );
      expect(timedOut.length).toBeGreaterThanOrEqual(200);
      expect(
        slow.clients.every((c) => c.received === "" || c.received.startsWith("HTTP/1.1 408 ")),
      ).toBe(true);
      expect(timedOut[0]?.received).toMatch(/no complete request head within 2 s/);
      process.stdout.write(
        `slow heads: ${timedOut.length} closed with 408, ${300 - timedOut.length} made room; longest ${Math.max(...lifetimes)} ms\n`,
      );
    } finally {
      slow.stop();
    }
  });

  it("the API stays responsive while 1,000 slow connections are attempted, and the relay holds few of them", async () => {
    const fdsBefore = await openFds();
    const slow = new SlowClients(500);
    const apiLatencies: number[] = [];
    let peakFds = fdsBefore;
    let probing = true;
    const probes = (async () => {
      while (probing) {
        const started = Date.now();
        const health = await fetch(`${stack.url}/healthz`);
        expect(health.status).toBe(200);
        apiLatencies.push(Date.now() - started);
        peakFds = Math.max(peakFds, await openFds());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await slow.open(1_000);
      const stillOpen = await slow.closedWithin(HEAD_TIMEOUT_MS + 3_000);
      probing = false;
      await probes;
      expect(stillOpen, "slow connections still open 3 s after the head deadline").toBe(0);
      expect(apiLatencies.length).toBeGreaterThan(10);
      expect(
        Math.max(...apiLatencies),
        "the API's slowest /healthz while under attack, ms",
      ).toBeLessThan(2_000);
      // At most 256 connections not signed in from one address, plus what the stack holds anyway.
      expect(peakFds - fdsBefore, "file descriptors the attack added to drydock up").toBeLessThan(
        256 + 64,
      );
      process.stdout.write(
        `1,000 slow connections: API /healthz p-max ${Math.max(...apiLatencies)} ms over ${apiLatencies.length} probes; fds ${fdsBefore} → peak ${peakFds}\n`,
      );
    } finally {
      probing = false;
      slow.stop();
    }
  });

  it("the head deadline is 10 s unless configured", async () => {
    const relay = (await import(pathToFileURL(join(ROOT, "apps/relay/dist/index.js")).href)) as {
      readRelayConfig(env: Record<string, string>): Record<string, unknown>;
    };
    const config = relay.readRelayConfig({
      DRYDOCK_SERVER_URL: "http://127.0.0.1:9",
      DRYDOCK_RELAY_TOKEN: "relay-token-0123456789abcdef",
    });
    expect(config.headTimeoutMs).toBe(10_000);
  });
});

describe("credentials and headers (no session needed)", () => {
  it("/metrics needs a token; /healthz does not", async () => {
    const bare = await relayGet(relayHost(), "/metrics");
    expect(bare.status).toBe(401);
    expect(bare.body).not.toMatch(/drydock_relay_/);
    expect(
      (
        await relayGet(relayHost(), "/metrics", {
          authorization: "Bearer not-the-metrics-token-0123",
        })
      ).status,
    ).toBe(401);
    expect(await scrape()).toMatch(/^drydock_relay_tunnels \d+$/m);
    expect((await relayGet(relayHost(), "/healthz")).status).toBe(200);
  });

  it("the console sends a Content-Security-Policy with frame-ancestors 'none', and Referrer-Policy: no-referrer", async () => {
    const { url: signInLink } = await stack.api.auth.signInCode.mutate();
    for (const path of [
      "/",
      "/executions",
      new URL(signInLink).pathname + new URL(signInLink).search,
    ]) {
      const page = await fetch(`${stack.url}${path}`, {
        redirect: "manual",
        headers: { accept: "text/html" },
      });
      const csp = page.headers.get("content-security-policy") ?? "";
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).toMatch(/script-src 'self'/);
      expect(csp, path).not.toMatch(/unsafe-inline/);
      expect(page.headers.get("referrer-policy"), path).toBe("no-referrer");
    }
  });

  it("the long-lived token in a URL signs nobody in: `?token=` sets no cookie and the API still answers 401", async () => {
    for (const path of [`/?token=${stack.token}`, `/executions?token=${stack.token}`]) {
      const page = await fetch(`${stack.url}${path}`, {
        redirect: "manual",
        headers: { accept: "text/html" },
      });
      expect(page.headers.get("set-cookie"), path).toBeNull();
      expect(page.status, path).not.toBe(303);
    }
    const browser: Browser = await launchChromium();
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${stack.url}/?token=${stack.token}`);
      expect(await context.cookies(stack.url)).toEqual([]);
      const me = await page.evaluate(async () => (await fetch("/trpc/auth.me")).status);
      expect(me).toBe(401);
    } finally {
      await browser.close();
    }
  });

  it("the built console works under its policy in Chromium: no violation on its pages or its launch form", async () => {
    const registered = await drydock(["register", example("pipeline/workflow.ts")], stack.env);
    expect(registered.code, registered.stderr).toBe(0);
    const browser: Browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      await page.exposeFunction("reportViolation", (what: string) => problems.push(what));
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          void (window as unknown as { reportViolation(what: string): void }).reportViolation(
            `${e.violatedDirective} blocked ${e.blockedURI}`,
          );
        });
      });
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text());
      });
      await signInPage(page, stack);
      await page.getByRole("heading", { name: "No executions yet" }).waitFor();
      // The launch form compiles each input's schema with ajv (eval) and checks it in the page.
      await page.goto(`${stack.url}/workflows/pipeline`);
      await page.getByLabel("count", { exact: true }).fill("-3");
      await page.getByRole("button", { name: "Launch" }).click();
      await page.locator(".field-error").first().waitFor();
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("the relay's own pages forbid framing and the Referer: a refusal on a session host, and health", async () => {
    for (const answer of [
      await relayGet(`s1probe.localhost:${relayPort}`, "/"),
      await relayGet(relayHost(), "/healthz"),
    ]) {
      expect(answer.headers["content-security-policy"] ?? "").toMatch(
        /default-src 'none'.*frame-ancestors 'none'/,
      );
      expect(answer.headers["referrer-policy"]).toBe("no-referrer");
    }
  });
});

describe("with an IDE session", () => {
  let executionId = "";
  let session: InteractiveSession;
  const sessionHost = () => `${session.id}.localhost:${relayPort}`;
  /** A fresh ticket's redeem path (`/__drydock/redeem?ticket=…`), as the console's link carries it. */
  const ticketPath = async () => {
    const { url } = await stack.api.sessions.ideTicket.mutate({ sessionId: session.id });
    const link = new URL(url);
    expect(link.host).toBe(sessionHost());
    return `${link.pathname}${link.search}`;
  };
  const signIn = async () => {
    const redeemed = await relayGet(sessionHost(), await ticketPath());
    expect(redeemed.status).toBe(303);
    return (redeemed.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
  };

  beforeAll(async () => {
    // A real interactive task: READY once its IDE answers through the relay.
    executionId = await launchInteractivePipeline(stack);
    session = await readySession(stack, executionId);
  });

  afterAll(async () => {
    if (executionId)
      await stack.api.executions.abort.mutate({ id: executionId }).catch(() => undefined);
  });

  it("the ticket's redirect keeps its connection, and the IDE's first page comes on it by the fast path", async () => {
    const path = await ticketPath();
    const before = await scrape();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const redirect = await relayGet(sessionHost(), path, {}, agent);
      expect(redirect.status).toBe(303);
      expect(redirect.headers.connection).not.toBe("close");
      const cookie = (redirect.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
      const first = await relayGet(
        sessionHost(),
        redirect.headers.location ?? "/",
        { cookie },
        agent,
      );
      expect(first.status).toBeLessThan(400);
      expect(first.reusedSocket, "the IDE's first page came on the redirect's connection").toBe(
        true,
      );
      expect(first.socket).toBe(redirect.socket);
    } finally {
      agent.destroy();
    }
    // Handed to the relay's HTTP server meanwhile: the scrape's own connection, and any agent dialling its tunnel.
    const after = await scrape();
    const handOffs =
      metric(after, /^drydock_relay_handoffs_total (\d+)$/) -
      metric(before, /^drydock_relay_handoffs_total (\d+)$/);
    const dials =
      metric(after, /^drydock_relay_tunnel_connects_total\{[^}]*\} (\d+)$/) -
      metric(before, /^drydock_relay_tunnel_connects_total\{[^}]*\} (\d+)$/);
    expect(
      handOffs - dials,
      "connections handed to the relay's HTTP server besides the scrape and tunnel dials",
    ).toBe(1);
  });

  it.each([
    ["a tab, which browsers drop (/\\t/host is //host)", "/%09/evil.example/"],
    ["CR/LF, which would end the Location header", "/%0d%0aSet-Cookie:%20planted=1"],
  ])(
    "refuses a next with %s before spending the ticket, which then still signs in",
    async (_name, next) => {
      const path = await ticketPath();
      const refused = await relayGet(sessionHost(), `${path}&next=${next}`);
      expect(refused.status).toBe(400);
      expect(refused.headers.location).toBeUndefined();
      expect(refused.headers["set-cookie"]).toBeUndefined();
      expect(refused.body).toMatch(/next=.* is refused/);
      const again = await relayGet(sessionHost(), path);
      expect(again.status).toBe(303);
      expect(again.headers.location).toBe("/");
    },
  );

  it("refuses a 20 KB request head sent in one read with 431, and code-server never sees it", async () => {
    const cookie = await signIn();
    const forwarded = (text: string) =>
      metric(text, /^drydock_relay_requests_total\{kind="http",outcome="forwarded"\} (\d+)$/);
    const before = forwarded(await scrape());
    const head = `GET /big HTTP/1.1\r\nHost: ${sessionHost()}\r\nCookie: ${cookie}\r\nX-Pad: ${"a".repeat(20 * 1024)}\r\n\r\n`;
    const text = await rawExchange(head, (t) => t.includes("</html>"));
    expect(forwarded(await scrape()) - before, "requests the relay forwarded to code-server").toBe(
      0,
    );
    expect(text).toMatch(/^HTTP\/1.1 431 /);
    expect(text).toMatch(/larger than the 16 KB the relay accepts/);
  });

  it("the redemption's redirect carries the relay's guard headers", async () => {
    const redeemed = await relayGet(sessionHost(), await ticketPath());
    expect(redeemed.status).toBe(303);
    expect(redeemed.headers["content-security-policy"] ?? "").toMatch(/frame-ancestors 'none'/);
    expect(redeemed.headers["referrer-policy"]).toBe("no-referrer");
  });
});
