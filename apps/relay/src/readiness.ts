import type { RelayAuthority } from "@drydock/contracts";
import type { RelayTunnel } from "@drydock/tunnel";
import type { FastifyBaseLogger } from "fastify";

const ATTEMPTS = 60;
const PAUSE_MS = 500;

/**
 * Tells the control plane the session's IDE answers through this relay (its `/healthz`, through the
 * tunnel), so that the session shows its link only from then on. Tries for a while: code-server may still
 * be starting when its agent connects.
 */
export async function announceReady(
  authority: RelayAuthority,
  log: FastifyBaseLogger,
  sessionId: string,
  tunnel: RelayTunnel,
  host: string,
): Promise<void> {
  for (let attempt = 0; attempt < ATTEMPTS && !tunnel.closed; attempt++) {
    if ((await tunnel.probe("/healthz", host)) === 200) {
      try {
        await authority.sessionReady({ sessionId });
      } catch (error) {
        log.warn(
          { sessionId, err: error },
          "could not tell the control plane the session is ready",
        );
      }
      return;
    }
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
}
