/**
 * Child process: the relay under test, built from `src` with an authority that accepts every agent token.
 * Listens on `DRYDOCK_BENCH_HOST` (127.0.0.1 by default), on the port given as its argument (a free one if none:
 * a restarted relay takes its predecessor's).
 * Announces `{ url, ideOrigin }`; answers `tunnels` (how many it holds), `watch` / `losses` (records why a
 * session's tunnel closes), `rss` (resident memory now) and `memory` (`process.memoryUsage()` after full
 * garbage collections; run with `--expose-gc`).
 */
import type { RelayAuthority } from "@drydock/contracts";

import { buildRelay, RelayConfigSchema } from "../src/index.js";
import { listenHost, serveParent } from "./ipc.js";
import { BENCH_COOKIE_SECRET, type MemorySample, type RelayReady } from "./shared.js";

const authority: RelayAuthority = {
  authorizeTunnel: async ({ sessionId }) => ({ sessionId, attemptId: "bench" }),
  redeemTicket: async () => {
    throw new Error("the benchmark redeems no tickets");
  },
  sessionReady: async () => ({ ok: true }),
  // Nobody's access is revoked in the benchmark: an empty snapshot, then nothing until the relay stops.
  accessEvents: async function* (signal) {
    yield { type: "snapshot", revoked: [] };
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  },
  reportConnections: async () => ({ ok: true }),
};

const config = RelayConfigSchema.parse({
  host: listenHost(),
  port: Number(process.argv[2] ?? 0),
  serverUrl: "http://127.0.0.1:9",
  relayToken: "bench-relay-token-0123456789abcdef",
  cookieSecret: BENCH_COOKIE_SECRET,
  logLevel: "warn",
});

/** Settles the heap: several full collections with turns of the event loop between (finalizers, weak refs). */
async function collect(): Promise<void> {
  if (!globalThis.gc) throw new Error("the relay child needs --expose-gc to measure memory");
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const relay = buildRelay(config, { authority });
const { url, ideOrigin } = await relay.listen();
/** Why watched tunnels closed: the bench checks its session's tunnel survives every measurement. */
const losses: string[] = [];
serveParent({ url, ideOrigin } satisfies RelayReady, {
  tunnels: () => relay.tunnels.size,
  watch: (sessionId) => {
    const tunnel = relay.tunnels.get(sessionId as string);
    if (!tunnel) throw new Error(`the relay holds no tunnel for ${String(sessionId)}`);
    tunnel.once("close", (reason) => losses.push(`${String(sessionId)}: ${reason}`));
  },
  losses: () => losses,
  rss: () => process.memoryUsage().rss,
  memory: async (): Promise<MemorySample> => {
    await collect();
    const usage = process.memoryUsage();
    return {
      tunnels: relay.tunnels.size,
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
    };
  },
});
