/**
 * Relay benchmark: what the relay path (client → relay → tunnel → agent end → upstream) costs against the
 * direct loopback path (client → upstream) and against the peer, localtunnel (client → its server → one of its
 * client's pooled connections → upstream; installed from the registry for the run, see `peer.ts`), all measured
 * in the same run, interleaved:
 *   1. bulk throughput, 100 MB down and up         (goal: relay ≥ 70 % of direct, download)
 *   2. small-request latency, sequential GETs      (goal: relay p50 ≤ direct p50 + 0.2 ms)
 *   3. requests/s with 50 connections (autocannon) (goal: relay ≥ 40 % of direct)
 *   4. WebSocket echo latency                      (goal: relay p50 ≤ 1.5 × direct p50)
 *   5. a stalled download beside a 32 MB one         (goals: the 32 MB within 5 s; relay RSS grows ≤ 64 MB)
 *   6. relay memory per idle tunnel, 1,000 tunnels (goal: ≤ 50 KB per tunnel)
 *   7. an agent back after its relay restarts      (goal: ≤ 2 s from the new relay listening)
 * Goals are judged against direct measured in the same run; the table also says, per figure, whether the relay is
 * ahead of the peer. Sections 1–4 measure the peer too.
 * The upstream, the relay, the agent end, the peer's server and the peer's client each run in a child process of
 * their own (bench/*.ts); this process is the load generator. Sections 1–4 also print, per process, the CPU time
 * and the wake-ups (voluntary context switches) each unit of work cost, which says where the relay path's time goes.
 * A missed goal prints MISS; only an error (a lost tunnel, a failed request) makes the exit code non-zero.
 *
 * Run: pnpm --filter @drydock/relay bench
 *   [-- --only=bulk,latency,rps,ws,stall,memory,restart] [--no-peer] [--cpu-prof[=<dir>]]
 * (`--cpu-prof` writes V8 CPU profiles of the relay and agent children into <dir>/<child>/, by default a new
 * directory under the system's temporary directory.) Needs `pnpm --filter @drydock/tunnel build` first
 * (turbo's `bench` task builds dependencies); the relay itself runs from `src`. Takes about a minute, and needs
 * the registry for the peer (`--no-peer` leaves it out).
 */
import { mkdirSync } from "node:fs";
import { Agent, request, type IncomingMessage } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";

import { Child, runBenchmark, type ChildOptions } from "./ipc.js";
import {
  download,
  median,
  quantile,
  requestLatency,
  requestsPerSecond,
  upload,
  websocketEcho,
  type PathName,
  type Target,
} from "./measure.js";
import { relayTarget, SESSION, startPeer } from "./paths.js";
import { installPeer, removePeer } from "./peer.js";
import { added, fmt, log, printTable, ratio, times, type ByPath, type Row } from "./table.js";
import {
  usageNow,
  type AgentsConnectArgs,
  type MemorySample,
  type RelayReady,
  type UpstreamReady,
  type Usage,
} from "./shared.js";

const SECTIONS = ["bulk", "latency", "rps", "ws", "stall", "memory", "restart"] as const;
type Section = (typeof SECTIONS)[number];

const BULK_BYTES = 100e6;
const BULK_RUNS = 3;
const LATENCY_WARMUP = 300;
const LATENCY_MEASURED = 2_000;
const RPS_CONNECTIONS = 50;
const RPS_SECONDS = 5;
const RPS_WARMUP_SECONDS = 1;
const WS_WARMUP = 200;
const WS_MEASURED = 2_000;
const IDLE_TUNNELS = 1_000;
const STALL_OTHER_BYTES = 32 * 1024 * 1024;

interface Args {
  only: Set<Section>;
  cpuProfDir: string | undefined;
  peer: boolean;
}

function parseArgs(argv: string[]): Args {
  let only = new Set<Section>(SECTIONS);
  let cpuProfDir: string | undefined;
  let peer = true;
  for (const arg of argv) {
    if (arg === "--") continue;
    if (arg === "--no-peer") {
      peer = false;
      continue;
    }
    const [flag, value] = arg.split("=", 2) as [string, string | undefined];
    if (flag === "--only" && value) {
      const wanted = value.split(",").map((s) => s.trim());
      const unknown = wanted.filter((s) => !(SECTIONS as readonly string[]).includes(s));
      if (unknown.length > 0)
        throw new Error(
          `unknown section(s) ${unknown.join(", ")}; choose from ${SECTIONS.join(", ")}`,
        );
      only = new Set(wanted as Section[]);
    } else if (flag === "--cpu-prof") {
      cpuProfDir = value ? resolvePath(value) : join(tmpdir(), `drydock-relay-bench-${Date.now()}`);
    } else {
      throw new Error(
        `unknown argument ${arg}; usage: bench/relay.ts [--only=${SECTIONS.join(",")}] [--no-peer] [--cpu-prof[=<dir>]]`,
      );
    }
  }
  return { only, cpuProfDir, peer };
}

const rows: Row[] = [];
async function main(): Promise<void> {
  const { only, cpuProfDir, peer } = parseArgs(process.argv.slice(2));
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  const profiled: ChildOptions = cpuProfDir ? { cpuProfDir } : {};
  const cpu = cpus();
  const load = loadavg()[0]!;
  log(
    `relay benchmark: Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${process.platform}, load average ${load.toFixed(2)}`,
  );
  if (load > cpu.length / 2)
    log(
      `warning: the machine is busy (load ${load.toFixed(2)} on ${cpu.length} cores); expect noisy figures`,
    );
  log(
    `processes: load generator ${process.pid}; upstream, relay, agent end, peer server and peer client each in a child\n`,
  );

  const { child: upstreamChild, ready: upstream } = await Child.start<UpstreamReady>(
    "upstream",
    "upstream.ts",
    [],
  );

  const sections: [Section, (ctx: Context) => Promise<void>][] = [
    ["bulk", bulk],
    ["latency", latency],
    ["rps", rps],
    ["ws", websocket],
    ["stall", stall],
  ];
  const wanted = sections.filter(([section]) => only.has(section));
  // A failure in the traffic sections (a lost tunnel, say) skips the rest of them, not the memory section
  // (it has its own relay) nor the table of what was measured; the exit code still says it failed.
  let peerDir: string | undefined;
  try {
    if (peer && wanted.length > 0) {
      const installStarted = performance.now();
      peerDir = await installPeer();
      log(
        `peer: localtunnel installed from the registry in ${fmt((performance.now() - installStarted) / 1000, 1)} s\n`,
      );
    }
    if (wanted.length > 0) await traffic(upstreamChild, upstream, wanted, profiled, peerDir);
  } finally {
    if (peerDir) await removePeer(peerDir);
    if (only.has("memory")) await memory(upstream.port, profiled);
    if (only.has("restart")) await restart(upstream.port, profiled);

    printTable(rows);
    if (cpuProfDir)
      log(
        `\nCPU profiles of the relay and agent children: ${cpuProfDir}/<child>/CPU.*.<pid>.0.*.cpuprofile (thread 0 is the main thread)`,
      );
  }
}

/**
 * Sections 1–4 against one relay and one agent end (and the peer's server and client, when installed in
 * `peerDir`), checking after each that the session's tunnel survived.
 */
async function traffic(
  upstreamChild: Child,
  upstream: UpstreamReady,
  wanted: [Section, (ctx: Context) => Promise<void>][],
  profiled: ChildOptions,
  peerDir: string | undefined,
): Promise<void> {
  const direct: Target = {
    name: "direct",
    host: "127.0.0.1",
    port: upstream.port,
    headers: {},
    wsHeaders: {},
  };
  const { child: relayChild, ready: relay } = await Child.start<RelayReady>(
    "relay",
    "relay-child.ts",
    [],
    profiled,
  );
  const { child: agents } = await Child.start<null>("agent", "agents.ts", [], profiled);
  const peer = peerDir
    ? await startPeer(peerDir, upstream.port, {
        server: profiled,
        client: profiled,
        serverHost: "127.0.0.1",
        upstreamHost: "127.0.0.1",
      })
    : undefined;
  try {
    await agents.call<number>("connect", {
      relayUrl: relay.url,
      ideOrigin: relay.ideOrigin,
      upstreamPort: upstream.port,
      sessions: [SESSION],
      batch: 1,
    } satisfies AgentsConnectArgs);
    await relayChild.call("watch", SESSION);
    const relayed = relayTarget(relay);
    const ctx: Context = {
      direct,
      relayed,
      targets: peer ? [direct, relayed, ...peer.targets] : [direct, relayed],
      relay: relayChild,
      children: [upstreamChild, relayChild, agents, ...(peer?.children ?? [])],
    };
    for (const [name, run] of [["smoke", smokeTest] as const, ...wanted]) {
      // A tunnel lost mid-section is a failure of the relay, not a slow figure: fail with why, not with its figures.
      const failIfTunnelLost = async (failure?: unknown) => {
        const lost = await relayChild.call<string[]>("losses");
        if (lost.length === 0) return;
        const during = failure instanceof Error ? ` (the bench saw: ${failure.message})` : "";
        throw new Error(
          `the relay lost the session's tunnel during "${name}": ${lost.join("; ")}${during}`,
        );
      };
      try {
        await run(ctx);
      } catch (failure) {
        await failIfTunnelLost(failure);
        throw failure;
      }
      await failIfTunnelLost();
    }
  } finally {
    await Promise.all([
      agents.stop(),
      relayChild.stop(),
      ...(peer?.children ?? []).map((c) => c.stop()),
    ]);
  }
}

/** The paths, and the processes whose CPU time the bench accounts. */
interface Context {
  direct: Target;
  relayed: Target;
  /** Every path measured, in the order each round measures them: direct, relay, then the peer if installed. */
  targets: Target[];
  /** The relay's process, for figures of its own (its memory). */
  relay: Child;
  children: Child[];
}

/** What each process has used so far; the load generator is this process. */
async function usageOf(children: Child[]): Promise<Map<string, Usage>> {
  const own = usageNow();
  const entries = await Promise.all(
    children.map(async (child) => [child.name, await child.call<Usage>("usage")] as const),
  );
  return new Map([["load generator", own], ...entries]);
}

/** Runs `work` and says what each process used for it per unit of work (`units` of the result). */
async function usagePer<T>(
  ctx: Context,
  units: (result: T) => number,
  work: () => Promise<T>,
): Promise<{ result: T; per: Map<string, Usage> }> {
  const before = await usageOf(ctx.children);
  const result = await work();
  const after = await usageOf(ctx.children);
  const n = units(result);
  const per = new Map<string, Usage>();
  for (const [name, end] of after) {
    const start = before.get(name) ?? { cpu: 0, wakeups: 0 };
    per.set(name, { cpu: (end.cpu - start.cpu) / n, wakeups: (end.wakeups - start.wakeups) / n });
  }
  return { result, per };
}

/** Adds `per` into `total` (for usage summed over several runs). */
function addUsage(total: Map<string, Usage>, per: Map<string, Usage>, scale = 1): void {
  for (const [name, u] of per) {
    const t = total.get(name) ?? { cpu: 0, wakeups: 0 };
    total.set(name, { cpu: t.cpu + u.cpu * scale, wakeups: t.wakeups + u.wakeups * scale });
  }
}

/**
 * "relay 213 µs/4.1, agent 149 µs/3.0, …": CPU time (in `unit`) and wake-ups per unit of work, busiest
 * first, without the processes that idled (under `floorUs` of CPU).
 */
function usageLine(per: Map<string, Usage>, unit: "µs" | "ms", floorUs: number): string {
  const scale = unit === "ms" ? 1000 : 1;
  return [...per]
    .filter(([, u]) => u.cpu >= floorUs)
    .sort((a, b) => b[1].cpu - a[1].cpu)
    .map(
      ([name, u]) =>
        `${name} ${fmt(u.cpu / scale, 0)} ${unit}/${fmt(u.wakeups, u.wakeups < 10 ? 1 : 0)}`,
    )
    .join(", ");
}

/** Fails early, and clearly, if either path does not answer (a refused cookie, a dead tunnel). */
async function smokeTest({ targets }: Context): Promise<void> {
  for (const target of targets) {
    const agent = new Agent({ keepAlive: false });
    try {
      await download(target, agent, 1_000);
    } finally {
      agent.destroy();
    }
  }
}

/** 100 MB down, then up: a warm-up each way, then rounds of one run per path (so drift hits every path). */
async function bulk(ctx: Context): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, "y");
  const agents: ByPath<Agent> = {};
  for (const target of ctx.targets)
    agents[target.name] = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const kind of ["download", "upload"] as const) {
      const once = (target: Target) =>
        kind === "download"
          ? download(target, agents[target.name]!, BULK_BYTES)
          : upload(target, agents[target.name]!, BULK_BYTES, chunk);
      const runs: ByPath<number[]> = {};
      const used: ByPath<Map<string, Usage>> = {};
      for (const target of ctx.targets) await once(target);
      for (let i = 0; i < BULK_RUNS; i++) {
        for (const target of ctx.targets) {
          const { result, per } = await usagePer(
            ctx,
            () => BULK_RUNS * (BULK_BYTES / 100e6),
            () => once(target),
          );
          (runs[target.name] ??= []).push(result);
          addUsage((used[target.name] ??= new Map<string, Usage>()), per);
        }
      }
      const show = (xs: number[]) => xs.map((x) => fmt(x, 0)).join(", ");
      log(
        `${kind} 100 MB, MB/s (median of ${BULK_RUNS} after a warm-up): ${perPath(ctx, (name) => show(runs[name]!))}`,
      );
      log(
        `  CPU ms/wake-ups per 100 MB: ${perPath(ctx, (name) => usageLine(used[name]!, "ms", 5_000))}`,
      );
      const [d, r, p] = medians(ctx, runs);
      rows.push({
        metric: `${kind} 100 MB (MB/s)`,
        direct: d,
        relay: r,
        ...(p === undefined ? {} : { peer: p }),
        digits: 0,
        compare: ratio,
        better: "higher",
        ...(kind === "download" ? { goal: "relay ≥ 70 % of direct", pass: r >= 0.7 * d } : {}),
      });
    }
  } finally {
    for (const agent of Object.values(agents)) agent.destroy();
  }
}

/** "direct …; relay …; peer …": one figure per path measured. */
function perPath(ctx: Context, figure: (name: PathName) => string): string {
  return ctx.targets.map((target) => `${target.name}: ${figure(target.name)}`).join("; ");
}

/** The median of each path's runs: direct, relay and the peer (undefined when it was not measured). */
function medians(ctx: Context, runs: ByPath<number[]>): [number, number, number | undefined] {
  const of = (name: PathName) => (runs[name] ? median(runs[name]) : undefined);
  return [of("direct")!, of("relay")!, ctx.targets.length > 2 ? of("peer") : undefined];
}

/** Sequential tiny GETs on one kept-alive connection per path (a new one, briefly warmed, per block), in alternating blocks. */
async function latency(ctx: Context): Promise<void> {
  const pooled = await alternate(ctx, LATENCY_WARMUP, 20, (target, warmup) =>
    requestLatency(target, warmup, LATENCY_MEASURED / BLOCKS),
  );
  quantileRows(ctx, pooled, {
    title: `GET latency, ${LATENCY_MEASURED} sequential after ${LATENCY_WARMUP}, one kept-alive connection`,
    unit: "request",
    metric: "GET",
    compare: added,
    goal: { text: "relay ≤ direct + 0.2 ms", pass: (r50, d50) => r50 <= d50 + 0.2 },
  });
}

/** Prints a sampled figure's p50 and p99 per path, and adds their rows (the goal on p50). */
function quantileRows(
  ctx: Context,
  pooled: ByPath<Pooled>,
  shown: {
    title: string;
    unit: string;
    metric: string;
    compare: (path: number, direct: number) => string;
    goal: { text: string; pass: (relay: number, direct: number) => boolean };
  },
): void {
  const at = (q: number) => (name: PathName) => {
    const p = pooled[name];
    return p ? quantile(p.samples, q) : undefined;
  };
  const [p50, p99] = [at(0.5), at(0.99)];
  log(
    `${shown.title}: p50 ${perPath(ctx, (name) => fmt(p50(name)!, 3))} ms; p99 ${perPath(ctx, (name) => fmt(p99(name)!, 3))} ms`,
  );
  log(
    `  CPU µs/wake-ups per ${shown.unit}: ${perPath(ctx, (name) => usageLine(pooled[name]!.usage, "µs", 2))}`,
  );
  for (const [q, at] of [
    ["p50", p50],
    ["p99", p99],
  ] as const) {
    const [d, r, peer] = [at("direct")!, at("relay")!, at("peer")];
    rows.push({
      metric: `${shown.metric} ${q} (ms)`,
      direct: d,
      relay: r,
      ...(peer === undefined ? {} : { peer }),
      digits: 3,
      compare: shown.compare,
      better: "lower",
      ...(q === "p50" ? { goal: shown.goal.text, pass: shown.goal.pass(r, d) } : {}),
    });
  }
}

/** Latency samples are taken in this many blocks per path, alternating the paths, so drift hits all. */
const BLOCKS = 4;

interface Pooled {
  samples: number[];
  /** Per operation (warm-ups included), by process. */
  usage: Map<string, Usage>;
}

/**
 * Runs `measure` in BLOCKS rounds, every path in turn each round (`warmup` operations first in the first
 * round, `rewarm` in the others), and pools each path's samples and CPU time.
 */
async function alternate(
  ctx: Context,
  warmup: number,
  rewarm: number,
  measure: (target: Target, warmup: number) => Promise<number[]>,
): Promise<ByPath<Pooled>> {
  const pooled: ByPath<{ samples: number[]; ops: number; used: Map<string, Usage> }> = {};
  for (let i = 0; i < BLOCKS; i++) {
    for (const target of ctx.targets) {
      const w = i === 0 ? warmup : rewarm;
      const into = (pooled[target.name] ??= {
        samples: [] as number[],
        ops: 0,
        used: new Map<string, Usage>(),
      });
      const { result, per } = await usagePer(
        ctx,
        () => 1,
        () => measure(target, w),
      );
      into.samples.push(...result);
      into.ops += w + result.length;
      addUsage(into.used, per);
    }
  }
  const done: ByPath<Pooled> = {};
  for (const [name, p] of Object.entries(pooled) as [PathName, (typeof pooled)["direct"]][]) {
    const usage = new Map<string, Usage>();
    addUsage(usage, p!.used, 1 / p!.ops);
    done[name] = { samples: p!.samples, usage };
  }
  return done;
}

async function rps(ctx: Context): Promise<void> {
  const results: ByPath<number> = {};
  const cpu: ByPath<string> = {};
  for (const target of ctx.targets) {
    await requestsPerSecond(target, RPS_CONNECTIONS, RPS_WARMUP_SECONDS);
    const { result, per } = await usagePer(
      ctx,
      (r) => r.total,
      () => requestsPerSecond(target, RPS_CONNECTIONS, RPS_SECONDS),
    );
    results[target.name] = result.requestsPerSecond;
    cpu[target.name] = usageLine(per, "µs", 2);
  }
  log(
    `requests/s, ${RPS_CONNECTIONS} connections, ${RPS_SECONDS} s after ${RPS_WARMUP_SECONDS} s warm-up: ${perPath(ctx, (name) => fmt(results[name]!, 0))}`,
  );
  log(`  CPU µs/wake-ups per request: ${perPath(ctx, (name) => cpu[name]!)}`);
  const d = results.direct!;
  const r = results.relay!;
  rows.push({
    metric: `req/s, ${RPS_CONNECTIONS} connections`,
    direct: d,
    relay: r,
    ...(results.peer === undefined ? {} : { peer: results.peer }),
    digits: 0,
    compare: ratio,
    better: "higher",
    goal: "relay ≥ 40 % of direct",
    pass: r >= 0.4 * d,
  });
}

/** Sequential echoes on one WebSocket per path (a new one per block), in alternating blocks. */
async function websocket(ctx: Context): Promise<void> {
  const pooled = await alternate(ctx, WS_WARMUP, 50, (target, warmup) =>
    websocketEcho(target, warmup, WS_MEASURED / BLOCKS),
  );
  quantileRows(ctx, pooled, {
    title: `WebSocket echo, ${WS_MEASURED} sequential after ${WS_WARMUP}`,
    unit: "echo",
    metric: "WS echo",
    compare: times,
    goal: { text: "relay ≤ 1.5 × direct", pass: (r50, d50) => r50 <= 1.5 * d50 },
  });
}

/**
 * A browser that stops reading a download (stream A, endless) while another downloads 32 MB (stream B) on
 * the same session's tunnel: flow control holds A back all the way to the upstream, so B takes its usual
 * time and the relay buffers no more than A's window. Prints B's time and the relay's RSS growth meanwhile.
 */
async function stall(ctx: Context): Promise<void> {
  const stalled = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: ctx.relayed.port,
        path: `/bytes?n=${1e12}`,
        agent: false,
        headers: ctx.relayed.headers,
      },
      resolve,
    );
    req.on("error", reject);
    req.end();
  });
  try {
    stalled.pause();
    // Until A has filled the windows and buffers along its way.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssBefore = await ctx.relay.call<number>("rss");
    const agent = new Agent({ keepAlive: false });
    const startedAt = performance.now();
    try {
      await download(ctx.relayed, agent, STALL_OTHER_BYTES);
    } finally {
      agent.destroy();
    }
    const otherMs = performance.now() - startedAt;
    const grewMb = ((await ctx.relay.call<number>("rss")) - rssBefore) / 2 ** 20;
    log(
      `stalled stream: another ${STALL_OTHER_BYTES / 2 ** 20} MB through the same tunnel took ${fmt(otherMs, 0)} ms; relay RSS grew ${fmt(grewMb, 1)} MB meanwhile`,
    );
    rows.push({
      metric: "32 MB beside a stalled stream (ms)",
      relay: otherMs,
      digits: 0,
      goal: "≤ 5000 ms",
      pass: otherMs <= 5_000,
    });
    rows.push({
      metric: "relay RSS growth meanwhile (MB)",
      relay: grewMb,
      digits: 1,
      goal: "≤ 64 MB",
      pass: grewMb <= 64,
    });
  } finally {
    stalled.destroy();
  }
}

/**
 * An agent (the real client, default backoff) connected to a relay that stops and is started again on the same
 * port: how long after the new relay listens the agent's tunnel is back.
 */
async function restart(upstreamPort: number, profiled: ChildOptions): Promise<void> {
  const { child: first, ready } = await Child.start<RelayReady>(
    "relay-restart",
    "relay-child.ts",
    [],
    profiled,
  );
  const { child: agents } = await Child.start<null>("agents-restart", "agents.ts", [], profiled);
  let second: Child | undefined;
  try {
    await agents.call<number>("connect", {
      relayUrl: ready.url,
      ideOrigin: ready.ideOrigin,
      upstreamPort,
      sessions: ["restart"],
      batch: 1,
    } satisfies AgentsConnectArgs);
    await first.stop();
    ({ child: second } = await Child.start<RelayReady>(
      "relay-restarted",
      "relay-child.ts",
      [new URL(ready.url).port],
      profiled,
    ));
    const listeningAt = performance.now();
    const deadline = listeningAt + 30_000;
    while ((await second.call<number>("tunnels")) !== 1) {
      if (performance.now() > deadline)
        throw new Error("the agent did not connect again within 30 s of its relay restarting");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const backMs = performance.now() - listeningAt;
    log(
      `relay restart: the agent's tunnel was back ${fmt(backMs, 0)} ms after the new relay listened`,
    );
    rows.push({
      metric: "agent back after a relay restart (ms)",
      relay: backMs,
      digits: 0,
      goal: "≤ 2000 ms",
      pass: backMs <= 2_000,
    });
  } finally {
    await agents.call("close").catch(() => undefined);
    await Promise.all([agents.stop(), first.stop(), second?.stop()]);
  }
}

/**
 * A fresh relay (run with --expose-gc) measured before and after 1,000 idle tunnels. A few tunnels are opened
 * and closed first, so the code paths a first tunnel loads (http2, nghttp2) are in the baseline: the figure
 * is what one more tunnel costs.
 */
async function memory(upstreamPort: number, profiled: ChildOptions): Promise<void> {
  const { child: relayChild, ready: relay } = await Child.start<RelayReady>(
    "relay-memory",
    "relay-child.ts",
    [],
    { ...profiled, nodeFlags: ["--expose-gc"] },
  );
  const { child: agents } = await Child.start<null>("agents-memory", "agents.ts", [], profiled);
  const connect = (sessions: string[]) =>
    agents.call<number>("connect", {
      relayUrl: relay.url,
      ideOrigin: relay.ideOrigin,
      upstreamPort,
      sessions,
      batch: 100,
    } satisfies AgentsConnectArgs);
  const until = async (count: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await relayChild.call<number>("tunnels");
      if (now === count) return;
      if (Date.now() > deadline)
        throw new Error(`the relay holds ${now} tunnels, not ${count}, after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  await connect(Array.from({ length: 10 }, (_, i) => `warm${i}`));
  await until(10, 10_000);
  await agents.call("close");
  await until(0, 10_000);
  const before = await relayChild.call<MemorySample>("memory");

  const started = performance.now();
  await connect(
    Array.from({ length: IDLE_TUNNELS }, (_, i) => `b${String(i + 1).padStart(4, "0")}`),
  );
  await until(IDLE_TUNNELS, 30_000);
  const connectMs = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = await relayChild.call<MemorySample>("memory");
  if (after.tunnels !== IDLE_TUNNELS)
    throw new Error(`the relay dropped tunnels while idle: ${after.tunnels} left`);

  const kb = (bytes: number) => bytes / IDLE_TUNNELS / 1024;
  const rss = kb(after.rss - before.rss);
  const heap = kb(after.heapUsed + after.external - (before.heapUsed + before.external));
  const mib = (bytes: number) => `${fmt(bytes / 2 ** 20, 1)} MB`;
  const mb = (s: MemorySample) =>
    `RSS ${mib(s.rss)}, heap ${mib(s.heapUsed)}, external ${mib(s.external)} (array buffers ${mib(s.arrayBuffers)})`;
  log(`relay memory, fresh process: before ${mb(before)}`);
  log(`  with ${IDLE_TUNNELS} idle tunnels (connected in ${fmt(connectMs, 0)} ms): ${mb(after)}`);
  const parts = `heap ${fmt(kb(after.heapUsed - before.heapUsed), 1)}, external ${fmt(kb(after.external - before.external), 1)}`;
  log(`  per tunnel: RSS ${fmt(rss, 1)} KB, heap+external ${fmt(heap, 1)} KB (${parts})`);
  rows.push({
    metric: "RSS per idle tunnel (KB)",
    relay: rss,
    digits: 1,
    goal: "≤ 50 KB",
    pass: rss <= 50,
  });
  rows.push({
    metric: "heap+external per tunnel (KB)",
    relay: heap,
    digits: 1,
    goal: "≤ 50 KB",
    pass: heap <= 50,
  });

  await agents.call("close");
  await Promise.all([agents.stop(), relayChild.stop()]);
}

await runBenchmark("relay benchmark", main);
