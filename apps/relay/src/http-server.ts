import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";

import { TUNNEL_PATH } from "@drydock/tunnel";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";

import { MAX_HEAD_BYTES } from "./fast-path/hooks.js";
import type { PendingConnections } from "./pending.js";
import { writeStatus } from "./refusals.js";
import type { ServerProxy } from "./server-proxy.js";
import type { SessionHosts } from "./session-hosts.js";

export interface HttpServerParts {
  log: FastifyBaseLogger;
  hosts: SessionHosts;
  pending: PendingConnections;
  /** Carries a session's requests and upgrades that arrive here through its tunnel. */
  proxy: ServerProxy;
  /** Takes an agent's tunnel dial. */
  acceptTunnel: (req: IncomingMessage, socket: Socket, head: Buffer) => Promise<void>;
}

/**
 * The relay's HTTP server (fastify): the connections the fast path hands it — the relay's own routes, the
 * agents' tunnel dials, and a connection that changed host — request by request. A session's requests go
 * straight to the proxy, never through fastify's routing; the relay's routes are registered by the caller.
 * It never listens itself: connections come from the relay's listener.
 */
export function buildHttpServer({
  log,
  hosts,
  pending,
  proxy,
  acceptTunnel,
}: HttpServerParts): FastifyInstance {
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: (handler) => {
      const dispatch = (req: IncomingMessage, res: ServerResponse) => {
        const sessionId = hosts.sessionOf(req.headers.host);
        if (sessionId && !req.url?.startsWith("/__drydock/"))
          return proxy.request(req, res, sessionId);
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
    const sessionId = hosts.sessionOf(req.headers.host);
    if (!sessionId) return writeStatus(socket, 404, "no such IDE session on this relay");
    proxy.upgrade(req, socket, head, sessionId);
  });
  return app;
}
