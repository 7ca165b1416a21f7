/**
 * The relay: agents dial in and hold one tunnel per session; browsers reach a session's IDE on its own origin,
 * `<session>.<ide-host>`, through that tunnel. Building (`buildRelay`) is apart from listening (`listen`).
 *
 * Traffic for a session host goes straight to the proxy (no framework in the hot path); everything else —
 * the ticket redemption, health and metrics — is routed by fastify.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Duplex } from "node:stream";

import { SessionIdSchema, type RelayAuthority } from "@drydock/contracts";
import { RelayTunnel, TUNNEL_PATH, TUNNEL_PROTOCOL } from "@drydock/tunnel";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from "fastify";
import { pino } from "pino";

import { asRefusal, Refusal } from "./authority.js";
import { serveConnection, type ConnectionHooks } from "./connection.js";
import { CookieSigner, SESSION_COOKIE, withoutSessionCookie } from "./cookies.js";
import { readTls, type RelayConfig } from "./env.js";
import { createMetrics, observeTunnels, type RelayMetrics } from "./metrics.js";
import { TunnelRegistry } from "./tunnels.js";

export const REDEEM_PATH = "/__drydock/redeem";

export interface RelayDeps {
  authority: RelayAuthority;
  /** A logger to share (`drydock up` passes the server's); otherwise the relay makes its own pino logger. */
  logger?: FastifyBaseLogger;
}

export interface Relay {
  app: FastifyInstance;
  server: Server;
  tunnels: TunnelRegistry;
  metrics: RelayMetrics;
  /** Listens on the configured host and port; resolves with the relay's own URL and the IDE origin. */
  listen(): Promise<{ url: string; ideOrigin: string }>;
  /** The origin session hosts hang off; known once listening when not configured. */
  ideOrigin(): string;
  /** Session `id`'s origin, e.g. `http://s1.localhost:8485`. */
  sessionOrigin(sessionId: string): string;
  close(): Promise<void>;
}

export function buildRelay(config: RelayConfig, deps: RelayDeps): Relay {
  const tls = readTls(config);
  const signer = new CookieSigner(config.cookieSecret ?? `derived:${config.relayToken}`);
  const tunnels = new TunnelRegistry();
  const metrics = createMetrics();
  observeTunnels(metrics, tunnels);
  let origin = config.ideOrigin ? new URL(config.ideOrigin) : undefined;
  const secure = () => origin?.protocol === "https:";

  /** The session a Host header names (`<session>.<ide-host>`), if it names one. */
  const sessionOf = (host: string | undefined): string | undefined => {
    if (!host || !origin) return undefined;
    const lower = host.toLowerCase();
    const suffix = `.${origin.host}`;
    if (!lower.endsWith(suffix)) return undefined;
    const label = lower.slice(0, -suffix.length);
    return SessionIdSchema.safeParse(label).success ? label : undefined;
  };
  const sessionOrigin = (sessionId: string) => {
    if (!origin) throw new Error("the relay's IDE origin is not known until it listens");
    return `${origin.protocol}//${sessionId}.${origin.host}`;
  };
  const rewriteRequestHeader = (name: string, value: string) => (name === "cookie" ? withoutSessionCookie(value) : value);

  const log: FastifyBaseLogger = deps.logger ?? pino({ level: config.logLevel, base: { service: "drydock-relay" } });

  /** Checks a browser request's cookie and Origin for `sessionId`; a refusal says what is wrong. */
  const admit = (sessionId: string, cookie: string | undefined, from: string | undefined, upgrade: boolean): Refusal | undefined => {
    const grant = signer.read(cookie, Date.now() / 1000);
    if ("problem" in grant) {
      const why = { missing: "you are not signed in to this IDE", invalid: "your IDE cookie is not valid", expired: "your IDE sign-in expired" }[grant.problem];
      return new Refusal(401, `${why}: open it from the Drydock console (VSCode (User)), whose link signs you in`);
    }
    if (grant.sessionId !== sessionId) return new Refusal(403, "this cookie belongs to another session's IDE");
    if (upgrade ? from !== sessionOrigin(sessionId) : from !== undefined && from !== sessionOrigin(sessionId)) {
      return new Refusal(403, `cross-origin ${upgrade ? "WebSocket" : "request"} refused (Origin: ${from ?? "none"})`);
    }
    return undefined;
  };

  /**
   * Hands the session's tunnel to `use`, at once when it is there (the hot path: no promise, no timer), or
   * after waiting a little for an agent that is reconnecting; otherwise `refuse` hears why not.
   */
  const withTunnel = (sessionId: string, peer: Duplex | ServerResponse, use: (tunnel: RelayTunnel) => void, refuse: (refusal: Refusal) => void) => {
    const check = (tunnel: RelayTunnel | undefined) => {
      if (!tunnel) return refuse(new Refusal(503, "the task's IDE is reconnecting to the relay; this page retries by itself"));
      if (tunnel.stats().streams >= config.maxStreamsPerSession) {
        return refuse(new Refusal(503, `this session already has ${config.maxStreamsPerSession} connections open through the relay`));
      }
      use(tunnel);
    };
    const present = tunnels.get(sessionId);
    if (present) return check(present);
    const gone = new AbortController();
    const abort = () => gone.abort();
    peer.once("close", abort);
    void tunnels.wait(sessionId, config.tunnelWaitMs, gone.signal).then((tunnel) => {
      peer.off("close", abort);
      if (!gone.signal.aborted) check(tunnel);
    });
  };

  const proxyRequest = (req: IncomingMessage, res: ServerResponse, sessionId: string) => {
    const refused = admit(sessionId, req.headers.cookie, req.headers.origin, false);
    if (refused) return refuse(res, refused, "http");
    withTunnel(
      sessionId,
      res,
      (tunnel) => {
        metrics.requests.inc({ kind: "http", outcome: "forwarded" });
        tunnel.forwardRequest(req, res);
      },
      (refusal) => refuse(res, refusal, "http"),
    );
  };

  const proxyUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, sessionId: string) => {
    const refused = admit(sessionId, req.headers.cookie, req.headers.origin, true);
    if (refused) return refuseSocket(socket, refused, "upgrade");
    withTunnel(
      sessionId,
      socket,
      (tunnel) => {
        metrics.requests.inc({ kind: "upgrade", outcome: "forwarded" });
        tunnel.forwardUpgrade(req, socket, head);
      },
      (refusal) => refuseSocket(socket, refusal, "upgrade"),
    );
  };

  const acceptTunnel = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const connectRefused = (refusal: Refusal, result: string) => {
      metrics.tunnelConnects.inc({ result });
      log.info({ status: refusal.status, host: req.headers.host }, `tunnel refused: ${refusal.message}`);
      writeStatus(socket, refusal.status, refusal.message);
    };
    if (req.headers.upgrade?.toLowerCase() !== TUNNEL_PROTOCOL) return connectRefused(new Refusal(403, `the tunnel speaks ${TUNNEL_PROTOCOL}`), "bad_request");
    const sessionId = sessionOf(req.headers.host);
    if (!sessionId) return connectRefused(new Refusal(404, `a tunnel's Host must be <session>.${origin?.host ?? "<ide-host>"}`), "bad_request");
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
    if (!token) return connectRefused(new Refusal(401, "an agent token is required (Authorization: Bearer …)"), "unauthorized");
    if (tunnels.size >= config.maxTunnels && !tunnels.get(sessionId)) return connectRefused(new Refusal(503, `this relay holds its limit of ${config.maxTunnels} tunnels`), "busy");
    try {
      await deps.authority.authorizeTunnel({ sessionId, agentToken: token });
    } catch (error) {
      const refusal = asRefusal(error);
      return connectRefused(refusal, refusal.status === 503 ? "error" : refusal.status === 401 ? "unauthorized" : "forbidden");
    }
    if (socket.destroyed) return;
    let tunnel: RelayTunnel;
    try {
      tunnel = await RelayTunnel.accept(socket, head, { pingIntervalMs: config.pingIntervalMs, rewriteRequestHeader });
    } catch {
      metrics.tunnelConnects.inc({ result: "error" });
      return;
    }
    metrics.tunnelConnects.inc({ result: "accepted" });
    log.info({ sessionId }, "tunnel connected");
    tunnels.add(sessionId, tunnel, (reason) => {
      metrics.tunnelCloses.inc({ cause: closeCause(reason) });
      log.info({ sessionId, reason }, "tunnel closed");
    });
    void announceReady(sessionId, tunnel, req.headers.host ?? sessionId);
  };

  /**
   * Tells the control plane the session's IDE answers through this relay (its `/healthz`, through the
   * tunnel), so that the session shows its link only from then on. Tries for a while: code-server may still
   * be starting when its agent connects.
   */
  const announceReady = async (sessionId: string, tunnel: RelayTunnel, host: string) => {
    for (let attempt = 0; attempt < 60 && !tunnel.closed; attempt++) {
      if ((await tunnel.probe("/healthz", host)) === 200) {
        try {
          await deps.authority.sessionReady({ sessionId });
        } catch (error) {
          log.warn({ sessionId, err: error }, "could not tell the control plane the session is ready");
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const refuse = (res: ServerResponse, refusal: Refusal, kind: "http") => {
    metrics.requests.inc({ kind, outcome: outcomeOf(refusal) });
    if (res.headersSent || res.destroyed) return;
    res.writeHead(refusal.status, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      ...(refusal.status === 503 ? { "retry-after": "2" } : {}),
    });
    res.end(page(refusal));
  };
  const refuseSocket = (socket: Duplex, refusal: Refusal, kind: "http" | "upgrade") => {
    metrics.requests.inc({ kind, outcome: outcomeOf(refusal) });
    if (kind === "upgrade") writeStatus(socket, refusal.status, refusal.message);
    else writeStatus(socket, refusal.status, page(refusal), { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", ...(refusal.status === 503 ? { "Retry-After": "2" } : {}) });
  };

  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: (handler) => {
      const dispatch = (req: IncomingMessage, res: ServerResponse) => {
        const sessionId = sessionOf(req.headers.host);
        if (sessionId && !req.url?.startsWith("/__drydock/")) proxyRequest(req, res, sessionId);
        else handler(req, res);
      };
      // TLS, when configured, is the listener's business; this server only ever gets connections handed to it.
      return createHttpServer(dispatch);
    },
  });

  app.server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (req.url === TUNNEL_PATH) return void acceptTunnel(req, socket, head);
    const sessionId = sessionOf(req.headers.host);
    if (!sessionId) return writeStatus(socket, 404, "no such IDE session on this relay");
    proxyUpgrade(req, socket, head, sessionId);
  });

  app.get<{ Querystring: { ticket?: string; next?: string } }>(REDEEM_PATH, async (request, reply) => {
    const sessionId = sessionOf(request.headers.host);
    if (!sessionId) return reply.code(404).type("text/plain").send("open the link on the session's own host");
    const ticket = request.query.ticket;
    if (!ticket) return sendRefusal(reply, new Refusal(401, "the link has no ticket: open the IDE from the Drydock console"), metrics);
    try {
      const grant = await deps.authority.redeemTicket({ sessionId, ticket });
      const expires = Math.floor(Date.now() / 1000) + config.cookieTtlSeconds;
      const value = signer.sign({ sessionId, userId: grant.userId, expires });
      const cookie = `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${config.cookieTtlSeconds}${secure() ? "; Secure" : ""}`;
      const next = request.query.next;
      const target = next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
      metrics.requests.inc({ kind: "redeem", outcome: "forwarded" });
      // Connection: close, so the IDE's first request opens a new connection, which takes the fast path.
      return reply.code(303).header("set-cookie", cookie).header("cache-control", "no-store").header("connection", "close").header("location", target).send();
    } catch (error) {
      return sendRefusal(reply, asRefusal(error), metrics);
    }
  });
  app.get("/healthz", async () => ({ ok: true, tunnels: tunnels.size }));
  app.get("/metrics", async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  // Bound once: the fast path counts every request, and label lookups per request add up.
  const forwardedHttp = metrics.requests.labels({ kind: "http", outcome: "forwarded" });
  const forwardedUpgrade = metrics.requests.labels({ kind: "upgrade", outcome: "forwarded" });
  /** Every browser or agent connection arrives here first (see connection.ts). */
  const hooks: ConnectionHooks = {
    sessionOf,
    admit,
    open: (sessionId, authority, socket, ready, refuseWith) =>
      withTunnel(
        sessionId,
        socket,
        (tunnel) => {
          try {
            ready(tunnel.openConnection(authority));
          } catch (error) {
            refuseWith(new Refusal(503, `the task's tunnel cannot take another connection: ${(error as Error).message}`));
          }
        },
        refuseWith,
      ),
    rewrite: rewriteRequestHeader,
    forwarded: (kind) => (kind === "http" ? forwardedHttp : forwardedUpgrade).inc(),
    refuse: (socket, refusal, kind) => refuseSocket(socket, refusal, kind),
    handOff: (socket, bytes) => {
      socket.setTimeout(0);
      socket.unshift(bytes);
      app.server.emit("connection", socket);
      socket.resume();
    },
    maxHeaderSize: 16 * 1024,
  };
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    // A connection that sends nothing for 30 s is dropped (a slow head is then the HTTP parsers' 16 KB limit).
    socket.setTimeout(30_000, () => socket.destroy());
    socket.once("data", () => socket.setTimeout(0));
    serveConnection(socket, hooks);
  };
  // Half-open connections: a browser that has sent its last request still gets the answers in flight.
  const listener = tls ? createTlsServer({ ...tls, allowHalfOpen: true }, onConnection) : createNetServer({ allowHalfOpen: true }, onConnection);
  listener.on("tlsClientError", (_error: Error, socket: Socket) => socket.destroy());

  const relay: Relay = {
    app,
    server: app.server,
    tunnels,
    metrics,
    ideOrigin: () => {
      if (!origin) throw new Error("the relay's IDE origin is not known until it listens");
      return origin.origin;
    },
    sessionOrigin,
    async listen() {
      await app.ready();
      await new Promise<void>((resolve, reject) => {
        listener.once("error", reject);
        listener.listen(config.port, config.host, () => {
          listener.off("error", reject);
          resolve();
        });
      });
      const port = (listener.address() as AddressInfo).port;
      origin ??= new URL(`${tls ? "https" : "http"}://localhost:${port}`);
      const host = config.host.includes(":") ? `[${config.host}]` : config.host;
      return { url: `${tls ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`, ideOrigin: origin.origin };
    },
    async close() {
      const closed = new Promise((resolve) => listener.close(resolve));
      tunnels.closeAll("relay shutting down");
      for (const socket of sockets) socket.destroy();
      app.server.closeAllConnections();
      await closed;
      await app.close();
    },
  };
  return relay;
}

function outcomeOf(refusal: Refusal): string {
  return { 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 503: "unavailable" }[refusal.status];
}

function closeCause(reason: string): string {
  if (reason.startsWith("replaced")) return "replaced";
  if (reason.includes("PING")) return "ping_timeout";
  if (reason.startsWith("relay shutting down")) return "shutdown";
  if (reason.includes("error")) return "protocol_error";
  return "agent_gone";
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable" };

/** An answer written on a raw socket (upgrades, the fast path), then the socket is closed. */
function writeStatus(socket: Duplex, status: number, message: string, headers: Record<string, string> = { "Content-Type": "text/plain; charset=utf-8" }) {
  if (socket.destroyed) return;
  const body = message.endsWith("\n") ? message : `${message}\n`;
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function sendRefusal(reply: FastifyReply, refusal: Refusal, metrics: RelayMetrics) {
  metrics.requests.inc({ kind: "redeem", outcome: outcomeOf(refusal) });
  return reply.code(refusal.status).type("text/html; charset=utf-8").header("cache-control", "no-store").send(page(refusal));
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(refusal: Refusal): string {
  const title = refusal.status === 503 ? "Reconnecting…" : "Drydock IDE";
  const refresh = refusal.status === 503 ? `<meta http-equiv="refresh" content="2">` : "";
  return `<!doctype html><html><head><meta charset="utf-8">${refresh}<title>${title}</title></head><body><h1>${title}</h1><p>${escape(refusal.message)}</p></body></html>\n`;
}
