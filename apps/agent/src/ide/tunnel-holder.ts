/**
 * The session's tunnel to the relay, targeting code-server. It is dialled with the attempt's token; when
 * another connection with the same token replaced it, it is taken back while the attempt and the session
 * live; the relay's refusals are said in the task's log; `onReachable` fires once the relay has it.
 */
import { openTunnel } from "@drydock/tunnel";
import type { TunnelClient } from "@drydock/tunnel";
import type { Logger } from "pino";

import type { Ending } from "./session-ending.js";

export interface HoldTunnelOptions {
  relayUrl: string;
  host: string;
  token: string;
  /** code-server's private socket. */
  target: { socketPath: string };
  /** One heartbeat now: whether the server still counts on this agent, and on its session. */
  beatNow: () => Promise<{ proceed: boolean; session?: unknown }>;
  ending: Ending;
  log: Logger;
  writeTaskLog: (line: string) => void;
  /** Called once the relay has the tunnel; with the relay away, a few seconds after code-server answered. */
  onReachable?: () => void;
}

/** How long `onReachable` waits for the tunnel after code-server answered, when the relay cannot be reached. */
const REACHABLE_FALLBACK_MS = 3_000;

export function holdTunnel(options: HoldTunnelOptions): TunnelClient {
  const { ending, log, writeTaskLog } = options;
  const tunnel = openTunnel({
    relayUrl: options.relayUrl,
    host: options.host,
    token: options.token,
    target: options.target,
    // Someone else with this attempt's token took the tunnel: take it back while the attempt and session live.
    stillOurs: async () => {
      const answer = await options.beatNow();
      const ours = answer.proceed && answer.session !== undefined && !ending.settled;
      log.warn(
        { ours },
        "another connection with this attempt's token replaced the session's tunnel",
      );
      if (ours)
        writeTaskLog(
          "another connection replaced the IDE's tunnel to the relay; this agent still holds the session and reconnects",
        );
      return ours;
    },
  });
  tunnel.on("refused", (error) => {
    log.error({ error: error.message }, "the relay refused the session's tunnel");
    writeTaskLog(`the relay refused the session's tunnel: ${error.message}`);
  });
  tunnel.on("disconnected", (reason) => log.warn({ reason }, "tunnel lost; reconnecting"));
  if (options.onReachable) {
    const reachable = options.onReachable;
    const fallback = setTimeout(reachable, REACHABLE_FALLBACK_MS);
    const settle = () => {
      clearTimeout(fallback);
      reachable();
    };
    void tunnel.whenConnected().then(settle, settle);
  }
  return tunnel;
}
