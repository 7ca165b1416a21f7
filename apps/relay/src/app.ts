/**
 * The relay: agents dial in and hold one tunnel per session; browsers reach a session's IDE on its own origin,
 * `<session>.<ide-host>`, through that tunnel. Building (`buildRelay`) is apart from listening (`listen`).
 *
 * Traffic for a session host goes straight to the proxy (no framework in the hot path), and so does a
 * connection's first request when it redeems a ticket; everything else — health, metrics, agents' tunnels —
 * is routed by fastify. Until a connection signs in it is pending: it must send its request head in time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Duplex } from "node:stream";

import { SessionIdSchema, type RelayAuthority } from "@drydock/contracts";
import { RelayTunnel, TUNNEL_PATH, TUNNEL_PROTOCOL } from "@drydock/tunnel";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { pino } from "pino";

import { asRefusal, Refusal } from "./authority.js";
import { serveConnection, type ConnectionHooks } from "./connection.js";
import { CookieSigner, SESSION_COOKIE, withoutSessionCookie } from "./cookies.js";
import { readTls, type RelayConfig } from "./env.js";
import { createMetrics, observePending, observeTunnels, type RelayMetrics } from "./metrics.js";
import { OWN_PAGE_HEADERS, rawAnswer, refusalAnswer, type OwnAnswer } from "./pages.js";
import { PendingConnections, type PendingEnd } from "./pending.js";
import { redirectTarget } from "./redirect.js";
import { TunnelRegistry } from "./tunnels.js";

export const REDEEM_PATH = "/__drydock/redeem";
/** Largest request head, on the fast path and in the relay's HTTP server alike. */
const MAX_HEAD_BYTES = 16 * 1024;

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
  const pending = new PendingConnections(
    { headTimeoutMs: config.headTimeoutMs, max: config.maxPendingConnections, maxPerAddress: config.maxPendingPerAddress },
    (socket, why) => endPending(socket, why),
  );
  observePending(metrics, pending);
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
    pending.signedIn(req.socket);
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
    pending.signedIn(req.socket);
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
    pending.signedIn(req.socket);
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
    const answer = refusalAnswer(refusal);
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };
  const refuseSocket = (socket: Duplex, refusal: Refusal, kind: "http" | "upgrade") => {
    metrics.requests.inc({ kind, outcome: outcomeOf(refusal) });
    if (kind === "upgrade") writeStatus(socket, refusal.status, refusal.message);
    else if (!socket.destroyed) socket.end(rawAnswer(refusalAnswer(refusal), true));
  };

  /**
   * Ends a connection that did not sign in. One whose head is under way is told why (408, as Node's own
   * server does); an idle or evicted one is closed without a word, as a browser expects of a spare connection.
   */
  const endPending = (socket: Socket, why: PendingEnd) => {
    metrics.pendingClosed.inc({ reason: why });
    const seconds = config.headTimeoutMs / 1000;
    if (why === "slow" && socket.writable && !socket.writableEnded) {
      const refusal = new Refusal(408, `no complete request head within ${seconds} s of connecting or of the last answer`);
      socket.end(rawAnswer(refusalAnswer(refusal), true), () => socket.destroy());
    } else {
      socket.destroy();
    }
  };

  const metricsTokens = [config.metricsToken, config.relayToken].filter((t): t is string => t !== undefined).map(digest);
  /** Whether an Authorization header carries a token that may read `/metrics` (compared in constant time). */
  const mayReadMetrics = (authorization: string | undefined) => {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (!given) return false;
    const candidate = digest(given);
    return metricsTokens.some((token) => timingSafeEqual(token, candidate));
  };

  /**
   * Redeems a ticket for the session `host` names: sets the session cookie and redirects into the IDE. `next`
   * is checked before the ticket is spent, so a bad link costs nothing. Answered on the fast path (a
   * connection's first request) or by fastify (a connection already handed to it).
   */
  const redeem = async (host: string | undefined, query: URLSearchParams): Promise<OwnAnswer> => {
    const refused = (refusal: Refusal) => {
      metrics.requests.inc({ kind: "redeem", outcome: outcomeOf(refusal) });
      return refusalAnswer(refusal);
    };
    const sessionId = sessionOf(host);
    if (!sessionId) return refused(new Refusal(404, "open the link on the session's own host"));
    const ticket = query.get("ticket");
    if (!ticket) return refused(new Refusal(401, "the link has no ticket: open the IDE from the Drydock console"));
    const target = redirectTarget(query.get("next"), sessionOrigin(sessionId));
    if (target instanceof Refusal) return refused(target);
    let userId: string;
    try {
      ({ userId } = await deps.authority.redeemTicket({ sessionId, ticket }));
    } catch (error) {
      return refused(asRefusal(error));
    }
    const expires = Math.floor(Date.now() / 1000) + config.cookieTtlSeconds;
    const value = signer.sign({ sessionId, userId, expires });
    const cookie = `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${config.cookieTtlSeconds}${secure() ? "; Secure" : ""}`;
    metrics.requests.inc({ kind: "redeem", outcome: "forwarded" });
    return { status: 303, headers: { "Set-Cookie": cookie, "Cache-Control": "no-store", Location: target, ...OWN_PAGE_HEADERS }, body: "" };
  };
  const queryOf = (url: string) => new URL(url, "http://relay.invalid").searchParams;

  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: (handler) => {
      const dispatch = (req: IncomingMessage, res: ServerResponse) => {
        const sessionId = sessionOf(req.headers.host);
        if (sessionId && !req.url?.startsWith("/__drydock/")) return proxyRequest(req, res, sessionId);
        // The relay's own routes sign nobody in: the connection's next head is on the clock once this is answered.
        pending.headArrived(req.socket);
        res.once("close", () => pending.awaitHead(req.socket));
        handler(req, res);
      };
      // TLS, when configured, is the listener's business; this server only ever gets connections handed to it.
      return createHttpServer({ maxHeaderSize: MAX_HEAD_BYTES }, dispatch);
    },
  });

  app.server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (req.url === TUNNEL_PATH) return void acceptTunnel(req, socket, head);
    const sessionId = sessionOf(req.headers.host);
    if (!sessionId) return writeStatus(socket, 404, "no such IDE session on this relay");
    proxyUpgrade(req, socket, head, sessionId);
  });

  // Everything fastify answers is the relay's own: never framed, no scripts, no Referer.
  app.addHook("onSend", async (_request, reply) => {
    reply.headers(OWN_PAGE_HEADERS);
  });
  app.get(REDEEM_PATH, async (request, reply) => {
    const answer = await redeem(request.headers.host, queryOf(request.url));
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  app.get("/healthz", async () => ({ ok: true, tunnels: tunnels.size }));
  app.get("/metrics", async (request, reply) => {
    if (!mayReadMetrics(request.headers.authorization)) {
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="drydock-relay"')
        .type("text/plain; charset=utf-8")
        .send("/metrics needs Authorization: Bearer <DRYDOCK_RELAY_METRICS_TOKEN or the relay token>\n");
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

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
      metrics.handOffs.inc();
      socket.unshift(bytes);
      app.server.emit("connection", socket);
      socket.resume();
    },
    answer: (host, method, url) => (method === "GET" && url.split("?")[0] === REDEEM_PATH && sessionOf(host) ? redeem(host, queryOf(url)) : undefined),
    signedIn: (socket) => pending.signedIn(socket),
    headArrived: (socket) => pending.headArrived(socket),
    awaitingHead: (socket) => pending.awaitHead(socket),
    maxHeaderSize: MAX_HEAD_BYTES,
  };
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    pending.add(socket);
    serveConnection(socket, hooks);
  };
  // Half-open connections: a browser that has sent its last request still gets the answers in flight.
  const listener = tls
    ? createTlsServer({ ...tls, allowHalfOpen: true, handshakeTimeout: config.headTimeoutMs }, onConnection)
    : createNetServer({ allowHalfOpen: true }, onConnection);
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
  return { 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 408: "timeout", 431: "too_large", 503: "unavailable" }[refusal.status];
}

const digest = (token: string) => createHash("sha256").update(token).digest();

function closeCause(reason: string): string {
  if (reason.startsWith("replaced")) return "replaced";
  if (reason.includes("PING")) return "ping_timeout";
  if (reason.startsWith("relay shutting down")) return "shutdown";
  if (reason.includes("error")) return "protocol_error";
  return "agent_gone";
}

/** A plain-text answer written on a raw socket (upgrades, tunnel dials), then the socket is closed. */
function writeStatus(socket: Duplex, status: number, message: string) {
  if (socket.destroyed) return;
  const body = message.endsWith("\n") ? message : `${message}\n`;
  socket.end(rawAnswer({ status, headers: { "Content-Type": "text/plain; charset=utf-8", ...OWN_PAGE_HEADERS }, body }, true));
}
