import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";

import type { RelayAuthority } from "@drydock/contracts";
import { RelayTunnel, TUNNEL_PROTOCOL } from "@drydock/tunnel";
import type { FastifyBaseLogger } from "fastify";

import { asRefusal, Refusal } from "./authority.js";
import { requestHeaderForIde } from "./cookies.js";
import type { RelayConfig } from "./env.js";
import type { RelayMetrics } from "./metrics.js";
import type { PendingConnections } from "./pending.js";
import { announceReady } from "./readiness.js";
import { writeStatus } from "./refusals.js";
import type { SessionHosts } from "./session-hosts.js";
import type { TunnelRegistry } from "./tunnels.js";

export interface TunnelAcceptParts {
  config: Pick<RelayConfig, "maxTunnels" | "pingIntervalMs">;
  authority: RelayAuthority;
  hosts: SessionHosts;
  tunnels: TunnelRegistry;
  pending: PendingConnections;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
}

/**
 * Takes an agent's tunnel dial (an upgrade to the tunnel protocol on `<session>.<ide-host>`): the agent token
 * must be the one the control plane gave that session's attempt, and the relay must have room. An accepted
 * tunnel becomes the session's (replacing an older one), and the control plane hears once its IDE answers.
 */
export function createTunnelAcceptor({
  config,
  authority,
  hosts,
  tunnels,
  pending,
  metrics,
  log,
}: TunnelAcceptParts) {
  return async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const connectRefused = (refusal: Refusal, result: string) => {
      metrics.tunnelConnects.inc({ result });
      log.info(
        { status: refusal.status, host: req.headers.host },
        `tunnel refused: ${refusal.message}`,
      );
      writeStatus(socket, refusal.status, refusal.message);
    };
    if (req.headers.upgrade?.toLowerCase() !== TUNNEL_PROTOCOL)
      return connectRefused(
        new Refusal(403, `the tunnel speaks ${TUNNEL_PROTOCOL}`),
        "bad_request",
      );
    const sessionId = hosts.sessionOf(req.headers.host);
    if (!sessionId)
      return connectRefused(
        new Refusal(404, `a tunnel's Host must be <session>.${hosts.ideHost ?? "<ide-host>"}`),
        "bad_request",
      );
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
    if (!token)
      return connectRefused(
        new Refusal(401, "an agent token is required (Authorization: Bearer …)"),
        "unauthorized",
      );
    if (tunnels.size >= config.maxTunnels && !tunnels.get(sessionId))
      return connectRefused(
        new Refusal(503, `this relay holds its limit of ${config.maxTunnels} tunnels`),
        "busy",
      );
    try {
      await authority.authorizeTunnel({ sessionId, agentToken: token });
    } catch (error) {
      const refusal = asRefusal(error);
      return connectRefused(
        refusal,
        refusal.status === 503 ? "error" : refusal.status === 401 ? "unauthorized" : "forbidden",
      );
    }
    if (socket.destroyed) return;
    pending.signedIn(req.socket);
    let tunnel: RelayTunnel;
    try {
      tunnel = await RelayTunnel.accept(socket, head, {
        pingIntervalMs: config.pingIntervalMs,
        rewriteRequestHeader: requestHeaderForIde,
      });
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
    void announceReady(authority, log, sessionId, tunnel, req.headers.host ?? sessionId);
  };
}

/** The `cause` label of a closed tunnel in `drydock_relay_tunnel_closes_total`. */
function closeCause(reason: string): string {
  if (reason.startsWith("replaced")) return "replaced";
  if (reason.includes("PING")) return "ping_timeout";
  if (reason.startsWith("relay shutting down")) return "shutdown";
  if (reason.includes("error")) return "protocol_error";
  return "agent_gone";
}
