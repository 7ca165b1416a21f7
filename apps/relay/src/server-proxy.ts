import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

import type { RelayTunnel } from "@drydock/tunnel";

import type { Admission } from "./admission.js";
import { Refusal } from "./authority.js";
import type { BrowserConnections } from "./browser-connections.js";
import type { RelayMetrics } from "./metrics.js";
import type { PendingConnections } from "./pending.js";
import { refuseResponse, refuseSocket } from "./refusals.js";
import type { WithTunnel } from "./tunnel-lookup.js";

export interface ServerProxyParts {
  admission: Admission;
  connections: BrowserConnections;
  pending: PendingConnections;
  withTunnel: WithTunnel;
  metrics: RelayMetrics;
}

/**
 * Browser requests and upgrades for a session that reach the relay's HTTP server rather than the fast path
 * (a connection the fast path handed off, say a load balancer's pooled one): each is checked like any other,
 * then carried through the tunnel on a stream of its own.
 */
export function createServerProxy({
  admission,
  connections,
  pending,
  withTunnel,
  metrics,
}: ServerProxyParts) {
  const forwardedHttp = metrics.requests.labels({ kind: "http", outcome: "forwarded" });
  const forwardedUpgrade = metrics.requests.labels({ kind: "upgrade", outcome: "forwarded" });

  /** Admits the request, then hands `forward` the session's tunnel; `refuse` answers a refusal of either. */
  const carry = (
    req: IncomingMessage,
    peer: Duplex | ServerResponse,
    sessionId: string,
    upgrade: boolean,
    forward: (tunnel: RelayTunnel) => void,
    refuse: (refusal: Refusal) => void,
  ) => {
    const admitted = admission.admit(sessionId, req.headers.cookie, req.headers.origin, upgrade);
    if (admitted instanceof Refusal) return refuse(admitted);
    connections.hold(req.socket, admitted);
    pending.signedIn(req.socket);
    withTunnel(sessionId, peer, forward, refuse);
  };

  return {
    request(req: IncomingMessage, res: ServerResponse, sessionId: string): void {
      carry(
        req,
        res,
        sessionId,
        false,
        (tunnel) => {
          forwardedHttp.inc();
          tunnel.forwardRequest(req, res);
        },
        (refusal) => refuseResponse(metrics, res, refusal),
      );
    },

    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, sessionId: string): void {
      carry(
        req,
        socket,
        sessionId,
        true,
        (tunnel) => {
          forwardedUpgrade.inc();
          tunnel.forwardUpgrade(req, socket, head);
        },
        (refusal) => refuseSocket(metrics, socket, refusal, "upgrade"),
      );
    },
  };
}
export type ServerProxy = ReturnType<typeof createServerProxy>;
