import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

import type { RelayTunnel } from "@drydock/tunnel";

import { Refusal } from "./authority.js";
import type { TunnelRegistry } from "./tunnels.js";

/**
 * Hands the session's tunnel to `use`, at once when it is there, or after waiting a little for an agent that
 * is reconnecting; otherwise `refuse` hears why not. `peer` is the browser's end: its closing stops the wait.
 */
export type WithTunnel = (
  sessionId: string,
  peer: Duplex | ServerResponse,
  use: (tunnel: RelayTunnel) => void,
  refuse: (refusal: Refusal) => void,
) => void;

export interface TunnelLookupLimits {
  /** How long a browser waits for its session's agent to (re)connect. */
  tunnelWaitMs: number;
  /** Browser requests and sockets one session may have open at once. */
  maxStreamsPerSession: number;
}

/** The one way browser traffic finds its session's tunnel. When the tunnel is there (the hot path) it costs no promise and no timer. */
export function createTunnelLookup(
  tunnels: TunnelRegistry,
  limits: TunnelLookupLimits,
): WithTunnel {
  return (sessionId, peer, use, refuse) => {
    const check = (tunnel: RelayTunnel | undefined) => {
      if (!tunnel)
        return refuse(
          new Refusal(
            503,
            "the task's IDE is reconnecting to the relay; this page retries by itself",
          ),
        );
      if (tunnel.stats().streams >= limits.maxStreamsPerSession) {
        return refuse(
          new Refusal(
            503,
            `this session already has ${limits.maxStreamsPerSession} connections open through the relay`,
          ),
        );
      }
      use(tunnel);
    };
    const present = tunnels.get(sessionId);
    if (present) return check(present);
    const gone = new AbortController();
    const abort = () => gone.abort();
    peer.once("close", abort);
    void tunnels.wait(sessionId, limits.tunnelWaitMs, gone.signal).then((tunnel) => {
      peer.off("close", abort);
      if (!gone.signal.aborted) check(tunnel);
    });
  };
}
