/**
 * Many sessions: one relay process holding 2,000 agent tunnels while 2,000 browsers, one per session, each move
 * 40 KB/s through it (a 40 KB download every second on a kept-alive connection, the first at a random moment of
 * the first second), for a while. Goal: under 1 % of requests failing (an error, a status other than 200, a short
 * body, or no answer within 10 s). Printed: the relay's CPU (share of one core) and memory (RSS, peak), response
 * times, throughput. Then the same for the peer, localtunnel, as far as it holds: how many of its tunnels came up
 * (each is 10 pooled connections to its server), and the load over those.
 * Processes: upstream, relay, the agent ends (every tunnel in one process), the browsers, and the peer's server
 * and client, each a child.
 *
 * Run: pnpm --filter @drydock/relay bench:sessions [-- --sessions=2000] [--seconds=600] [--peer-sessions=N] [--no-peer]
 * The full profile is `--seconds=600` (about 25 minutes in all, the peer's failing tunnels included); CI runs a
 * short one, `--seconds=20 --peer-sessions=300`. Every figure is over the measured seconds only: the tunnels
 * are all up before the browsers start, and each browser's first request opens its connection.
 */
import { Child, runBenchmark } from "./ipc.js";
import type { BrowsersArgs, BrowsersResult } from "./browsers.js";
import { relayTarget, startPeer } from "./paths.js";
import { installPeer, removePeer } from "./peer.js";
import type { AgentsConnectArgs, RelayReady, UpstreamReady, Usage } from "./shared.js";
import { fmt, log, printTable, type Row } from "./table.js";
import type { Target } from "./measure.js";

const BYTES = 40 * 1024;
const INTERVAL_MS = 1_000;
const TIMEOUT_MS = 10_000;
const FAILURE_GOAL = 0.01;
const SAMPLE_MS = 5_000;

interface Args {
  sessions: number;
  seconds: number;
  peer: boolean;
  /** How many sessions the peer is given (all by default). */
  peerSessions: number | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sessions: 2_000, seconds: 60, peer: true, peerSessions: undefined };
  for (const arg of argv) {
    if (arg === "--") continue;
    const [flag, value] = arg.split("=", 2) as [string, string | undefined];
    const count = Number(value);
    if (flag === "--no-peer" && value === undefined) args.peer = false;
    else if (flag === "--sessions" && Number.isInteger(count) && count > 0) args.sessions = count;
    else if (flag === "--seconds" && Number.isInteger(count) && count > 0) args.seconds = count;
    else if (flag === "--peer-sessions" && Number.isInteger(count) && count > 0)
      args.peerSessions = count;
    else
      throw new Error(
        `bad argument ${arg}; usage: bench/sessions.ts [--sessions=N] [--seconds=S] [--peer-sessions=N] [--no-peer] (N, S whole and positive)`,
      );
  }
  return args;
}

/** What one path did under the load: the browsers' result, its server's CPU and peak memory, every process's CPU. */
interface Measured {
  result: BrowsersResult;
  cpuShare: number;
  peakRssMb: number;
  /** "browsers 61 %, agents 40 %, …": each process's CPU, as a share of one core. */
  cpuByProcess: string;
}

/**
 * Runs the browsers against `targets` while sampling `server` (the relay, or the peer's server); `others` are the
 * path's other processes, whose CPU is reported too.
 */
async function underLoad(
  server: Child,
  others: Child[],
  targets: Target[],
  seconds: number,
): Promise<Measured> {
  const { child: browsers } = await Child.start<null>("browsers", "browsers.ts", []);
  const all = [server, ...others, browsers];
  const usages = () => Promise.all(all.map((child) => child.call<Usage>("usage")));
  try {
    let peak = await server.call<number>("rss");
    const sampler = setInterval(() => {
      void server.call<number>("rss").then(
        (rss) => (peak = Math.max(peak, rss)),
        () => undefined,
      );
    }, SAMPLE_MS);
    const before = await usages();
    const started = performance.now();
    try {
      const result = await browsers.call<BrowsersResult>("run", {
        targets,
        seconds,
        intervalMs: INTERVAL_MS,
        bytes: BYTES,
        timeoutMs: TIMEOUT_MS,
      } satisfies BrowsersArgs);
      const after = await usages();
      peak = Math.max(peak, await server.call<number>("rss"));
      const wallUs = (performance.now() - started) * 1000;
      const shares = all.map((child, i) => (after[i]!.cpu - before[i]!.cpu) / wallUs);
      return {
        result,
        cpuShare: shares[0]!,
        peakRssMb: peak / 2 ** 20,
        cpuByProcess: all
          .map((child, i) => `${child.name} ${fmt(shares[i]! * 100, 0)} %`)
          .join(", "),
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await browsers.stop();
  }
}

function report(name: string, tunnels: number, m: Measured, seconds: number): void {
  const { result } = m;
  const failed = result.requests > 0 ? result.failures / result.requests : 1;
  log(
    `${name}: ${tunnels} tunnels, ${result.requests} requests in ${seconds} s, ${result.failures} failed (${fmt(failed * 100, 2)} %); ` +
      `response p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms, max ${fmt(result.max, 0)} ms ` +
      `(each browser's first, opening its connection: p99 ${fmt(result.firstP99, 0)} ms); ` +
      `${fmt(result.bytes / 1e6 / seconds, 1)} MB/s; its server: CPU ${fmt(m.cpuShare * 100, 0)} % of a core, RSS peak ${fmt(m.peakRssMb, 0)} MB`,
  );
  log(`  CPU, share of one core: ${m.cpuByProcess}`);
  for (const [reason, count] of Object.entries(result.reasons)) log(`  ${count} × ${reason}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const names = Array.from(
    { length: args.sessions },
    (_, i) => `sess${String(i + 1).padStart(5, "0")}`,
  );
  log(
    `sessions benchmark: ${args.sessions} sessions, a browser each moving ${BYTES / 1024} KB/s, ${args.seconds} s per path\n`,
  );
  const rows: Row[] = [];
  const { child: upstreamChild, ready: upstream } = await Child.start<UpstreamReady>(
    "upstream",
    "upstream.ts",
    [],
  );
  let peerDir: string | undefined;
  try {
    const { child: relayChild, ready: relay } = await Child.start<RelayReady>(
      "relay",
      "relay-child.ts",
      [],
    );
    const { child: agents } = await Child.start<null>("agents", "agents.ts", []);
    let relayed: Measured;
    try {
      const connectStarted = performance.now();
      await agents.call<number>("connect", {
        relayUrl: relay.url,
        ideOrigin: relay.ideOrigin,
        upstreamPort: upstream.port,
        sessions: names,
        batch: 100,
      } satisfies AgentsConnectArgs);
      const tunnels = await relayChild.call<number>("tunnels");
      log(
        `relay: ${tunnels} tunnels up in ${fmt((performance.now() - connectStarted) / 1000, 1)} s`,
      );
      relayed = await underLoad(
        relayChild,
        [agents, upstreamChild],
        names.map((name) => relayTarget(relay, "127.0.0.1", name)),
        args.seconds,
      );
      report("relay", tunnels, relayed, args.seconds);
    } finally {
      await Promise.all([agents.stop(), relayChild.stop()]);
    }

    let peer: { tunnels: number; measured: Measured } | undefined;
    if (args.peer) {
      peerDir = await installPeer();
      const started = performance.now();
      const local = { serverHost: "127.0.0.1", upstreamHost: "127.0.0.1", server: {}, client: {} };
      const { targets, children, failures } = await startPeer(
        peerDir,
        upstream.port,
        local,
        names.slice(0, args.peerSessions ?? args.sessions),
        50,
      );
      try {
        log(
          `\npeer: ${targets.length} of ${Math.min(names.length, args.peerSessions ?? args.sessions)} tunnels up in ${fmt((performance.now() - started) / 1000, 1)} s` +
            (failures.length > 0
              ? `; the first that failed (${failures[0]!.subdomain}): ${failures[0]!.reason}`
              : ""),
        );
        if (targets.length > 0) {
          const measured = await underLoad(
            children[0]!,
            [...children.slice(1), upstreamChild],
            targets,
            args.seconds,
          );
          report("peer", targets.length, measured, args.seconds);
          peer = { tunnels: targets.length, measured };
        }
      } finally {
        await Promise.all(children.map((child) => child.stop()));
      }
    }

    const failed = (m: Measured) =>
      m.result.requests > 0 ? (m.result.failures / m.result.requests) * 100 : 100;
    // Which path is ahead is said only when both carried the same sessions.
    const sameLoad = peer?.tunnels === args.sessions;
    const peerFigure = (f: (m: Measured) => number) =>
      peer ? { peer: f(peer.measured), ...(sameLoad ? { better: "lower" as const } : {}) } : {};
    rows.push(
      {
        metric: `tunnels up (of ${args.sessions}${args.peerSessions ? `; the peer's of ${args.peerSessions}` : ""})`,
        relay: args.sessions,
        ...(peer ? { peer: peer.tunnels } : {}),
        digits: 0,
        ...((args.peerSessions ?? args.sessions) === args.sessions
          ? { better: "higher" as const }
          : {}),
      },
      {
        metric: "requests failing (%)",
        relay: failed(relayed),
        ...peerFigure(failed),
        digits: 2,
        goal: "relay < 1 %",
        pass: failed(relayed) < FAILURE_GOAL * 100,
      },
      {
        metric: "response p99 (ms)",
        relay: relayed.result.p99,
        ...peerFigure((m) => m.result.p99),
        digits: 1,
      },
      {
        metric: "server CPU (% of a core)",
        relay: relayed.cpuShare * 100,
        ...peerFigure((m) => m.cpuShare * 100),
        digits: 0,
      },
      {
        metric: "server RSS peak (MB)",
        relay: relayed.peakRssMb,
        ...peerFigure((m) => m.peakRssMb),
        digits: 0,
      },
    );
  } finally {
    await upstreamChild.stop();
    if (peerDir) await removePeer(peerDir);
    printTable(rows);
  }
}

await runBenchmark("sessions benchmark", main);
