/**
 * The relay: agents dial in and hold one tunnel per session; browsers reach a session's IDE on its own origin,
 * `<session>.<ide-host>`, through that tunnel. Building (`buildRelay`) is apart from listening (`listen`).
 *
 * Traffic for a session host goes straight to the proxy (no framework in the hot path), and so does a
 * connection's first request when it redeems a ticket; everything else — health, metrics, agents' tunnels —
 * is routed by fastify. Until a connection signs in it is pending: it must send its request head in time.
 * Admitted connections are counted per session and person: the control plane's revocations cut them, and
 * the relay reports who is connected. This file only wires the parts together; each part is a module of
 * its own (see the README's map).
 */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";

import type { RelayAuthority } from "@drydock/contracts";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { pino } from "pino";

import { AccessRegistry } from "./access.js";
import { AccessFeed } from "./access-feed.js";
import { Admission } from "./admission.js";
import { BrowserConnections } from "./browser-connections.js";
import { ConnectionReporter } from "./connection-report.js";
import { CookieSigner } from "./cookies.js";
import { readTls, type RelayConfig } from "./env.js";
import { createFrontDoor } from "./front-door.js";
import { buildHttpServer } from "./http-server.js";
import { createListener, listenOn, relayUrl } from "./listener.js";
import { createMetrics, observePending, observeTunnels, type RelayMetrics } from "./metrics.js";
import { registerOwnRoutes } from "./own-routes.js";
import { PendingConnections } from "./pending.js";
import { TicketRedemption } from "./redeem.js";
import { endPendingConnection } from "./refusals.js";
import { createServerProxy } from "./server-proxy.js";
import { SessionHosts } from "./session-hosts.js";
import { createTunnelAcceptor } from "./tunnel-accept.js";
import { createTunnelLookup } from "./tunnel-lookup.js";
import { TunnelRegistry } from "./tunnels.js";

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
  /** Names this relay in its connection reports. */
  relayId: string;
  /**
   * Listens on the configured host and port, follows the control plane's revocations and reports who is
   * connected; resolves with the relay's own URL and the IDE origin.
   */
  listen(): Promise<{ url: string; ideOrigin: string }>;
  /** The origin session hosts hang off; known once listening when not configured. */
  ideOrigin(): string;
  /** Session `id`'s origin, e.g. `http://s1.localhost:8485`. */
  sessionOrigin(sessionId: string): string;
  /** Ends every tunnel and connection, the revocations' subscription and the connection reports. */
  close(): Promise<void>;
}

export function buildRelay(config: RelayConfig, deps: RelayDeps): Relay {
  const tls = readTls(config);
  const log: FastifyBaseLogger =
    deps.logger ?? pino({ level: config.logLevel, base: { service: "drydock-relay" } });
  const signer = new CookieSigner(config.cookieSecret ?? `derived:${config.relayToken}`);
  const hosts = new SessionHosts(config.ideOrigin);
  const relayId = config.relayId ?? `relay-${randomUUID()}`;
  const connections = new BrowserConnections(config.cookieTtlSeconds, () => reporter.changed());
  const access = new AccessRegistry(config.cookieTtlSeconds, connections, log);
  const admission = new Admission(signer, hosts, access);
  const feed = new AccessFeed({ authority: deps.authority, registry: access, log });
  const reporter = new ConnectionReporter({
    relayId,
    connections,
    authority: deps.authority,
    log,
  });
  const tunnels = new TunnelRegistry();
  const metrics = createMetrics();
  observeTunnels(metrics, tunnels);
  const pending = new PendingConnections(
    {
      headTimeoutMs: config.headTimeoutMs,
      max: config.maxPendingConnections,
      maxPerAddress: config.maxPendingPerAddress,
    },
    endPendingConnection(metrics, config.headTimeoutMs),
  );
  observePending(metrics, pending);
  const withTunnel = createTunnelLookup(tunnels, config);
  const redemption = new TicketRedemption({
    hosts,
    signer,
    authority: deps.authority,
    metrics,
    cookieTtlSeconds: config.cookieTtlSeconds,
  });

  const app = buildHttpServer({
    log,
    hosts,
    pending,
    proxy: createServerProxy({ admission, connections, pending, withTunnel, metrics }),
    acceptTunnel: createTunnelAcceptor({
      config,
      authority: deps.authority,
      hosts,
      tunnels,
      pending,
      metrics,
      log,
    }),
  });
  registerOwnRoutes(app, {
    redemption,
    tunnels,
    metrics,
    metricsTokens: [config.metricsToken, config.relayToken],
  });
  const frontDoor = createFrontDoor({
    hosts,
    admission,
    connections,
    pending,
    withTunnel,
    redemption,
    metrics,
    server: app.server,
  });
  const listener = createListener(tls, config.headTimeoutMs, (socket) => frontDoor.accept(socket));
  const scheme = tls ? "https" : "http";

  return {
    app,
    server: app.server,
    tunnels,
    metrics,
    relayId,
    ideOrigin: () => hosts.ideOrigin(),
    sessionOrigin: (sessionId) => hosts.sessionOrigin(sessionId),
    async listen() {
      await app.ready();
      const port = await listenOn(listener, config.host, config.port);
      hosts.learn(new URL(`${scheme}://localhost:${port}`));
      feed.start();
      reporter.start();
      return { url: relayUrl(scheme, config.host, port), ideOrigin: hosts.ideOrigin() };
    },
    async close() {
      reporter.stop();
      await feed.stop();
      const closed = new Promise((resolve) => listener.close(resolve));
      tunnels.closeAll("relay shutting down");
      for (const socket of frontDoor.sockets) socket.destroy();
      app.server.closeAllConnections();
      await closed;
      await app.close();
    },
  };
}
