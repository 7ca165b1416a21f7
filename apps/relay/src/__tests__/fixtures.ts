import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { Readable } from "node:stream";

import {
  AppError,
  type RelayAccessEvent,
  type RelayAuthority,
  type ReportConnectionsInput,
} from "@drydock/contracts";
import { answerWithBodyDigest } from "@drydock/tunnel/testing";
import { vi } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import type { z } from "zod";

import { buildRelay, type Relay } from "../app.js";
import { CookieSigner, SESSION_COOKIE } from "../cookies.js";
import { RelayConfigSchema, type RelayConfigInput } from "../env.js";
import { streamOf, type EventSink } from "../event-stream.js";

export const COOKIE_SECRET = "test-cookie-secret-0123456789";
export const RELAY_TOKEN = "relay-token-0123456789abcdef";

type Revocation = { sessionId: string; userId: string; at: string };

/**
 * The control plane's side of the contract, kept in memory with the same rules the server applies:
 * a token opens only its own session's tunnel; a ticket is for one session, once, before it expires;
 * the access events are the revocations in force as a snapshot, then each new one.
 */
export class MemoryAuthority implements RelayAuthority {
  readonly tokens = new Map<string, string>();
  readonly tickets = new Map<
    string,
    { sessionId: string; userId: string; expiresAt: number; used: boolean }
  >();
  /** Sessions the relay announced ready, in order. */
  readonly ready: string[] = [];
  calls = 0;
  /** Every redemption's input, client included. */
  readonly redemptions: { sessionId: string; ticket: string; client?: unknown }[] = [];
  /** The revocations in force (the snapshot a subscription starts with). */
  readonly revocations: Revocation[] = [];
  /** How many times the relay subscribed to the access events. */
  subscriptions = 0;
  /** While set, a subscription fails at once, as when the control plane is down. */
  accessDown = false;
  /** Reports received, in order. */
  readonly reports: z.input<typeof ReportConnectionsInput>[] = [];
  /** How many of the next reports fail. */
  failReports = 0;
  private readonly subscribers = new Set<EventSink<RelayAccessEvent>>();

  issue(ticket: string, sessionId: string, ttlMs = 60_000, userId = "local") {
    this.tickets.set(ticket, {
      sessionId,
      userId,
      expiresAt: Date.now() + ttlMs,
      used: false,
    });
  }

  /** Revokes `userId`'s access to `sessionId` (as of `at`), streaming it to every subscriber unless `quietly`. */
  revoke(sessionId: string, userId: string, at = new Date(), quietly = false) {
    const revocation = { sessionId, userId, at: at.toISOString() };
    this.revocations.push(revocation);
    if (!quietly)
      for (const sink of this.subscribers) sink.push({ type: "revoked", ...revocation });
  }

  /** Subscriptions open now. */
  get openSubscriptions(): number {
    return this.subscribers.size;
  }

  /** Breaks every open subscription, as a dropped connection would. */
  breakAccessEvents() {
    for (const sink of [...this.subscribers]) sink.fail(new Error("the access event stream broke"));
  }

  accessEvents(signal: AbortSignal): AsyncIterable<RelayAccessEvent> {
    return streamOf<RelayAccessEvent>(signal, (sink) => {
      this.subscriptions++;
      if (this.accessDown) {
        sink.fail(new Error("the control plane is down"));
        return () => undefined;
      }
      this.subscribers.add(sink);
      sink.push({ type: "snapshot", revoked: [...this.revocations] });
      return () => this.subscribers.delete(sink);
    });
  }

  async reportConnections(input: z.input<typeof ReportConnectionsInput>) {
    if (this.failReports > 0) {
      this.failReports--;
      throw new Error("the control plane could not take the report");
    }
    this.reports.push(structuredClone(input));
    return { ok: true };
  }

  async authorizeTunnel({ sessionId, agentToken }: { sessionId: string; agentToken: string }) {
    this.calls++;
    const own = this.tokens.get(agentToken);
    if (own === undefined)
      throw new AppError("AGENT_TOKEN_UNKNOWN", "UNAUTHORIZED", "unknown agent token");
    if (own !== sessionId)
      throw new AppError(
        "TUNNEL_FORBIDDEN",
        "FORBIDDEN",
        "this agent token belongs to another attempt",
      );
    return { sessionId, attemptId: `attempt-of-${sessionId}` };
  }

  async redeemTicket(input: { sessionId: string; ticket: string; client?: unknown }) {
    const { sessionId, ticket } = input;
    this.calls++;
    this.redemptions.push(input);
    const t = this.tickets.get(ticket);
    if (!t) throw new AppError("TICKET_UNKNOWN", "UNAUTHORIZED", "unknown ticket");
    if (t.sessionId !== sessionId)
      throw new AppError("TICKET_OTHER_SESSION", "FORBIDDEN", "this ticket is for another session");
    if (t.used) throw new AppError("TICKET_USED", "FORBIDDEN", "this ticket was already used");
    if (t.expiresAt <= Date.now())
      throw new AppError("TICKET_EXPIRED", "UNAUTHORIZED", "this ticket expired");
    t.used = true;
    return { sessionId, userId: t.userId };
  }

  async sessionReady({ sessionId }: { sessionId: string }) {
    this.ready.push(sessionId);
    return { ok: true };
  }
}

export async function startRelay(
  authority: RelayAuthority,
  overrides: Partial<RelayConfigInput> = {},
): Promise<Relay & { port: number }> {
  const config = RelayConfigSchema.parse({
    port: 0,
    serverUrl: "http://127.0.0.1:9",
    relayToken: RELAY_TOKEN,
    cookieSecret: COOKIE_SECRET,
    tunnelWaitMs: 300,
    logLevel: "silent",
    ...overrides,
  });
  const relay = buildRelay(config, { authority });
  const { url } = await relay.listen();
  return Object.assign(relay, { port: Number(new URL(url).port) });
}

export function cookieFor(
  sessionId: string,
  expiresInSeconds = 3600,
  secret = COOKIE_SECRET,
): string {
  const value = new CookieSigner(secret).sign({
    sessionId,
    userId: "local",
    expires: Math.floor(Date.now() / 1000) + expiresInSeconds,
  });
  return `${SESSION_COOKIE}=${value}`;
}

/** The relay's cookie life unless a test sets `cookieTtlSeconds`. */
const DEFAULT_COOKIE_TTL_SECONDS = RelayConfigSchema.shape.cookieTtlSeconds.parse(undefined);

/** `userId`'s cookie for `sessionId` as a redemption `issuedSecondsAgo` would have set it. */
export function personCookie(sessionId: string, userId: string, issuedSecondsAgo = 0): string {
  const value = new CookieSigner(COOKIE_SECRET).sign({
    sessionId,
    userId,
    expires: Math.floor(Date.now() / 1000) - issuedSecondsAgo + DEFAULT_COOKIE_TTL_SECONDS,
  });
  return `${SESSION_COOKIE}=${value}`;
}

/** What the upstream (the IDE's stand-in) saw: every request and upgrade that reached it. */
export interface Upstream {
  server: Server;
  port: number;
  seen: { method: string; url: string; headers: IncomingMessage["headers"] }[];
  /** Bytes `/infinite` has handed to its socket so far. */
  infiniteSent: () => number;
  close(): Promise<void>;
}

export function startUpstream(): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  let infinite = 0;
  const block = Buffer.alloc(64 * 1024, 7);
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/infinite") {
      const source = new Readable({
        read() {
          infinite += block.length;
          this.push(block);
        },
      });
      source.pipe(res);
      res.on("close", () => source.destroy());
    } else if (url.pathname === "/sink") {
      answerWithBodyDigest(req, res);
    } else if (url.pathname === "/slow") {
      setTimeout(() => res.end(`slow ${url.searchParams.get("i")}`), 50);
    } else if (url.pathname === "/bytes") {
      const total = Number(url.searchParams.get("n"));
      res.setHeader("content-length", total);
      let left = total;
      const source = new Readable({
        read() {
          if (left <= 0) return this.push(null);
          const n = Math.min(left, block.length);
          left -= n;
          this.push(n === block.length ? block : block.subarray(0, n));
        },
      });
      source.pipe(res);
    } else {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ url: req.url, cookie: req.headers.cookie ?? null }));
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws, req) => {
    seen.push({ method: "WS", url: req.url ?? "", headers: req.headers });
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        seen,
        infiniteSent: () => infinite,
        close: async () => {
          for (const client of wss.clients) client.terminate();
          server.closeAllConnections();
          await new Promise((r) => server.close(r));
        },
      }),
    ),
  );
}

export interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A request as a browser on `<session>.localhost` would send it (Host set by hand; Node does not resolve *.localhost). */
export function browse(
  port: number,
  sessionId: string | null,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const host = sessionId ? `${sessionId}.localhost:${port}` : `localhost:${port}`;
    // A connection of its own, as a browser would (it never shares one between origins).
    const req = request(
      { host: "127.0.0.1", port, method, path, agent: false, headers: { host, ...headers } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The relay's Prometheus metrics, read as a scraper with the relay token would. */
export async function scrape(port: number): Promise<string> {
  const answer = await browse(port, null, "/metrics", { authorization: `Bearer ${RELAY_TOKEN}` });
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}: ${answer.body}`);
  return answer.body;
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A WebSocket from the session's own page, open; its echo answers through the relay. */
export async function openWebSocket(
  port: number,
  sessionId: string,
  cookie: string,
): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, {
    headers: {
      host: `${sessionId}.localhost:${port}`,
      cookie,
      origin: `http://${sessionId}.localhost:${port}`,
    },
  });
  ws.on("error", () => undefined);
  await once(ws, "open");
  return ws;
}

/** Sends `text` and resolves with the echo the upstream sends back. */
export async function echo(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = (await once(ws, "message")) as [Buffer];
  return data.toString();
}

/** A raw connection to the relay that stays open between requests, as a browser's kept-alive one does. */
export class RawConnection {
  text = "";
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => (this.text += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => (this.closed = true));
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    return new RawConnection(socket);
  }

  /** Writes `request` and waits until what came back since matches `answered`. */
  async exchange(request: string, answered: RegExp): Promise<string> {
    const from = this.text.length;
    this.socket.write(request);
    await vi.waitFor(() => {
      if (!answered.test(this.text.slice(from)))
        throw new Error(`no answer matching ${answered} yet: ${this.text.slice(from)}`);
    });
    return this.text.slice(from);
  }
}
