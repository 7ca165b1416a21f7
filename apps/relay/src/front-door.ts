import type { Server } from "node:http";
import type { Socket } from "node:net";

import { Refusal } from "./authority.js";
import type { Admission } from "./admission.js";
import type { BrowserConnections } from "./browser-connections.js";
import { requestHeaderForIde } from "./cookies.js";
import { serveConnection } from "./fast-path/connection.js";
import { MAX_HEAD_BYTES, type ConnectionHooks } from "./fast-path/hooks.js";
import type { RelayMetrics } from "./metrics.js";
import type { PendingConnections } from "./pending.js";
import type { TicketRedemption } from "./redeem.js";
import { refuseSocket } from "./refusals.js";
import type { SessionHosts } from "./session-hosts.js";
import type { WithTunnel } from "./tunnel-lookup.js";

export interface FrontDoorParts {
  hosts: SessionHosts;
  admission: Admission;
  connections: BrowserConnections;
  pending: PendingConnections;
  withTunnel: WithTunnel;
  redemption: TicketRedemption;
  metrics: RelayMetrics;
  /** The relay's HTTP server, which takes the connections the fast path hands off. */
  server: Server;
}

/**
 * Where every browser or agent connection arrives first: it is pending until it signs in, and is served by
 * the fast path (fast-path/connection.ts), which hands it to the relay's HTTP server when it is not for a
 * session.
 */
export function createFrontDoor(parts: FrontDoorParts) {
  const hooks = connectionHooks(parts);
  /** Open connections, so that closing the relay can end them. */
  const sockets = new Set<Socket>();
  return {
    sockets,
    accept(socket: Socket): void {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.setNoDelay(true);
      parts.pending.add(socket);
      serveConnection(socket, hooks);
    },
  };
}
export type FrontDoor = ReturnType<typeof createFrontDoor>;

/** What the fast path needs from the relay, built once: per request, the fast path only calls these. */
function connectionHooks(parts: FrontDoorParts): ConnectionHooks {
  const { hosts, admission, connections, pending, withTunnel, redemption, metrics, server } = parts;
  // Bound once: the fast path counts every request, and label lookups per request add up.
  const forwardedHttp = metrics.requests.labels({ kind: "http", outcome: "forwarded" });
  const forwardedUpgrade = metrics.requests.labels({ kind: "upgrade", outcome: "forwarded" });
  return {
    sessionOf: (host) => hosts.sessionOf(host),
    admit: (sessionId, cookie, origin, upgrade) =>
      admission.admit(sessionId, cookie, origin, upgrade),
    admitted: (socket, grant) => connections.hold(socket, grant),
    open: (sessionId, authority, socket, ready, refuseWith) =>
      withTunnel(
        sessionId,
        socket,
        (tunnel) => {
          try {
            ready(tunnel.openConnection(authority));
          } catch (error) {
            refuseWith(
              new Refusal(
                503,
                `the task's tunnel cannot take another connection: ${(error as Error).message}`,
              ),
            );
          }
        },
        refuseWith,
      ),
    rewrite: requestHeaderForIde,
    forwarded: (kind) => (kind === "http" ? forwardedHttp : forwardedUpgrade).inc(),
    refuse: (socket, refusal, kind) => refuseSocket(metrics, socket, refusal, kind),
    handOff: (socket, bytes) => {
      metrics.handOffs.inc();
      socket.unshift(bytes);
      server.emit("connection", socket);
      socket.resume();
    },
    answer: (host, method, url, client) => redemption.answer(host, method, url, client),
    signedIn: (socket) => pending.signedIn(socket),
    headArrived: (socket) => pending.headArrived(socket),
    awaitingHead: (socket) => pending.awaitHead(socket),
    maxHeaderSize: MAX_HEAD_BYTES,
  };
}
