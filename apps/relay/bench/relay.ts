/**
 * Relay benchmark: what the relay path (client → relay → tunnel → agent end → upstream) costs against the
 * direct loopback path (client → upstream), measured in the same run:
 *   1. bulk throughput, 100 MB down and up         (goal: relay ≥ 70 % of direct, download)
 *   2. small-request latency, sequential GETs      (goal: relay p50 ≤ direct p50 + 0.2 ms)
 *   3. requests/s with 50 connections (autocannon) (goal: relay ≥ 40 % of direct)
 *   4. WebSocket echo latency                      (goal: relay p50 ≤ 1.5 × direct p50)
 *   5. a stalled download beside a 32 MB one         (goals: the 32 MB within 5 s; relay RSS grows ≤ 64 MB)
 *   6. relay memory per idle tunnel, 1,000 tunnels (goal: ≤ 50 KB per tunnel)
 *   7. an agent back after its relay restarts      (goal: ≤ 2 s from the new relay listening)
 * The upstream, the relay and the agent end each run in a child process of their own (bench/*.ts); this
 * process is the load generator. Sections 1–4 also print, per process, the CPU time and the wake-ups
 * (voluntary context switches) each unit of work cost, which says where the relay path's time goes.
 * A missed goal prints MISS; only an error (a lost tunnel, a failed request) makes the exit code non-zero.
 *
 * Run: pnpm --filter @drydock/relay bench [-- --only=bulk,latency,rps,ws,stall,memory,restart] [--cpu-prof[=<dir>]]
 * (`--cpu-prof` writes V8 CPU profiles of the relay and agent children into <dir>/<child>/, by default a new
 * directory under the system's temporary directory.) Needs `pnpm --filter @drydock/tunnel build` first
 * (turbo's `bench` task builds dependencies); the relay itself runs from `src`. Takes about 40 s.
 */
import { mkdirSync } from "node:fs";
import { Agent, request, type IncomingMessage } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";

import { CookieSigner, SESSION_COOKIE } from "../src/cookies.js";
import { Child, killAll, stopAll, type ChildOptions } from "./ipc.js";
import {
  download,
  median,
  quantile,
  requestLatency,
  requestsPerSecond,
  upload,
  websocketEcho,
  type Target,
} from "./measure.js";
import {
  BENCH_COOKIE_SECRET,
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
const SESSION = "bench";

function parseArgs(argv: string[]): { only: Set<Section>; cpuProfDir: string | undefined } {
  let only = new Set<Section>(SECTIONS);
  let cpuProfDir: string | undefined;
  for (const arg of argv) {
    if (arg === "--") continue;
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
        `unknown argument ${arg}; usage: bench/relay.ts [--only=${SECTIONS.join(",")}] [--cpu-prof[=<dir>]]`,
      );
    }
  }
  return { only, cpuProfDir };
}

/** One line of the final table; `direct` is absent for relay-only figures. */
interface Row {
  metric: string;
  direct?: number;
  relay: number;
  digits: number;
  /** relay ÷ direct, or relay − direct, as the goal is phrased. */
  compare?: string;
  goal?: string;
  pass?: boolean;
}

const rows: Row[] = [];
const log = (line: string) => console.log(line);
const fmt = (n: number, digits: number) => n.toFixed(digits);
const pct = (n: number) => `${(n * 100).toFixed(0)} %`;

async function main(): Promise<void> {
  const { only, cpuProfDir } = parseArgs(process.argv.slice(2));
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
  log(`processes: load generator ${process.pid}; upstream, relay and agent end each in a child\n`);

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
  try {
    if (wanted.length > 0) await traffic(upstreamChild, upstream, wanted, profiled);
  } finally {
    if (only.has("memory")) await memory(upstream.port, profiled);
    if (only.has("restart")) await restart(upstream.port, profiled);

    printTable();
    if (cpuProfDir)
      log(
        `\nCPU profiles of the relay and agent children: ${cpuProfDir}/<child>/CPU.*.<pid>.0.*.cpuprofile (thread 0 is the main thread)`,
      );
  }
}

/** Sections 1–4 against one relay and one agent end, checking after each that the session's tunnel survived. */
async function traffic(
  upstreamChild: Child,
  upstream: UpstreamReady,
  wanted: [Section, (ctx: Context) => Promise<void>][],
  profiled: ChildOptions,
): Promise<void> {
  const direct: Target = { name: "direct", port: upstream.port, headers: {}, wsHeaders: {} };
  const { child: relayChild, ready: relay } = await Child.start<RelayReady>(
    "relay",
    "relay-child.ts",
    [],
    profiled,
  );
  const { child: agents } = await Child.start<null>("agent", "agents.ts", [], profiled);
  try {
    await agents.call<number>("connect", {
      relayUrl: relay.url,
      ideOrigin: relay.ideOrigin,
      upstreamPort: upstream.port,
      sessions: [SESSION],
      batch: 1,
    } satisfies AgentsConnectArgs);
    await relayChild.call("watch", SESSION);
    const ctx: Context = {
      direct,
      relayed: relayTarget(relay),
      relay: relayChild,
      children: [upstreamChild, relayChild, agents],
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
    await Promise.all([agents.stop(), relayChild.stop()]);
  }
}

/** The relay path for the bench's session: Host `bench.localhost:<port>`, a signed cookie, same-origin Origin. */
function relayTarget(relay: RelayReady): Target {
  const origin = new URL(relay.ideOrigin);
  const host = `${SESSION}.${origin.host}`;
  const grant = {
    sessionId: SESSION,
    userId: "bench",
    expires: Math.floor(Date.now() / 1000) + 3600,
  };
  const cookie = `${SESSION_COOKIE}=${new CookieSigner(BENCH_COOKIE_SECRET).sign(grant)}`;
  return {
    name: "relay",
    port: Number(new URL(relay.url).port),
    headers: { host, cookie },
    wsHeaders: { host, cookie, origin: `${origin.protocol}//${host}` },
  };
}

/** The two paths, and the processes whose CPU time the bench accounts. */
interface Context {
  direct: Target;
  relayed: Target;
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
async function smokeTest({ direct, relayed }: Context): Promise<void> {
  for (const target of [direct, relayed]) {
    const agent = new Agent({ keepAlive: false });
    try {
      await download(target, agent, 1_000);
    } finally {
      agent.destroy();
    }
  }
}

/** 100 MB down, then up: a warm-up each way, then runs alternating direct and relay (so drift hits both). */
async function bulk(ctx: Context): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, "y");
  const agents = {
    direct: new Agent({ keepAlive: true, maxSockets: 1 }),
    relay: new Agent({ keepAlive: true, maxSockets: 1 }),
  };
  try {
    for (const kind of ["download", "upload"] as const) {
      const once = (target: Target) =>
        kind === "download"
          ? download(target, agents[target.name], BULK_BYTES)
          : upload(target, agents[target.name], BULK_BYTES, chunk);
      const runs: Record<"direct" | "relay", number[]> = { direct: [], relay: [] };
      const used: Record<"direct" | "relay", Map<string, Usage>> = {
        direct: new Map(),
        relay: new Map(),
      };
      for (const target of [ctx.direct, ctx.relayed]) await once(target);
      for (let i = 0; i < BULK_RUNS; i++) {
        for (const target of [ctx.direct, ctx.relayed]) {
          const { result, per } = await usagePer(
            ctx,
            () => BULK_RUNS * (BULK_BYTES / 100e6),
            () => once(target),
          );
          runs[target.name].push(result);
          addUsage(used[target.name], per);
        }
      }
      const d = median(runs.direct);
      const r = median(runs.relay);
      const show = (xs: number[]) => xs.map((x) => fmt(x, 0)).join(", ");
      log(
        `${kind} 100 MB, MB/s (median of ${BULK_RUNS} after a warm-up): direct ${show(runs.direct)}; relay ${show(runs.relay)}`,
      );
      log(
        `  CPU ms/wake-ups per 100 MB: direct: ${usageLine(used.direct, "ms", 5_000)}; relay: ${usageLine(used.relay, "ms", 5_000)}`,
      );
      rows.push({
        metric: `${kind} 100 MB (MB/s)`,
        direct: d,
        relay: r,
        digits: 0,
        compare: pct(r / d),
        ...(kind === "download" ? { goal: "relay ≥ 70 % of direct", pass: r >= 0.7 * d } : {}),
      });
    }
  } finally {
    agents.direct.destroy();
    agents.relay.destroy();
  }
}

/** Sequential tiny GETs on one kept-alive connection per path (a new one, briefly warmed, per block), in alternating blocks. */
async function latency(ctx: Context): Promise<void> {
  const { direct: d, relay: r } = await alternate(ctx, LATENCY_WARMUP, 20, (target, warmup) =>
    requestLatency(target, warmup, LATENCY_MEASURED / BLOCKS),
  );
  const [d50, r50, d99, r99] = [
    quantile(d.samples, 0.5),
    quantile(r.samples, 0.5),
    quantile(d.samples, 0.99),
    quantile(r.samples, 0.99),
  ];
  log(
    `GET latency, ${LATENCY_MEASURED} sequential after ${LATENCY_WARMUP}, one kept-alive connection: ` +
      `p50 direct ${fmt(d50, 3)} / relay ${fmt(r50, 3)} ms; p99 ${fmt(d99, 3)} / ${fmt(r99, 3)} ms`,
  );
  log(
    `  CPU µs/wake-ups per request: direct: ${usageLine(d.usage, "µs", 2)}; relay: ${usageLine(r.usage, "µs", 2)}`,
  );
  rows.push({
    metric: "GET p50 (ms)",
    direct: d50,
    relay: r50,
    digits: 3,
    compare: `+${fmt(r50 - d50, 3)} ms`,
    goal: "relay ≤ direct + 0.2 ms",
    pass: r50 <= d50 + 0.2,
  });
  rows.push({
    metric: "GET p99 (ms)",
    direct: d99,
    relay: r99,
    digits: 3,
    compare: `+${fmt(r99 - d99, 3)} ms`,
  });
}

/** Latency samples are taken in this many blocks per path, alternating direct and relay, so drift hits both. */
const BLOCKS = 4;

interface Pooled {
  samples: number[];
  /** Per operation (warm-ups included), by process. */
  usage: Map<string, Usage>;
}

/**
 * Runs `measure` in BLOCKS rounds, direct then relay each round (`warmup` operations first in the first
 * round, `rewarm` in the others), and pools each path's samples and CPU time.
 */
async function alternate(
  ctx: Context,
  warmup: number,
  rewarm: number,
  measure: (target: Target, warmup: number) => Promise<number[]>,
): Promise<Record<"direct" | "relay", Pooled>> {
  const pooled = {
    direct: { samples: [] as number[], ops: 0, used: new Map<string, Usage>() },
    relay: { samples: [] as number[], ops: 0, used: new Map<string, Usage>() },
  };
  for (let i = 0; i < BLOCKS; i++) {
    for (const target of [ctx.direct, ctx.relayed]) {
      const w = i === 0 ? warmup : rewarm;
      const into = pooled[target.name];
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
  const done = (p: (typeof pooled)["direct"]): Pooled => {
    const usage = new Map<string, Usage>();
    addUsage(usage, p.used, 1 / p.ops);
    return { samples: p.samples, usage };
  };
  return { direct: done(pooled.direct), relay: done(pooled.relay) };
}

async function rps(ctx: Context): Promise<void> {
  const results: Record<"direct" | "relay", number> = { direct: 0, relay: 0 };
  const cpu: Record<"direct" | "relay", string> = { direct: "", relay: "" };
  for (const target of [ctx.direct, ctx.relayed]) {
    await requestsPerSecond(target, RPS_CONNECTIONS, RPS_WARMUP_SECONDS);
    const { result, per } = await usagePer(
      ctx,
      (r) => r.total,
      () => requestsPerSecond(target, RPS_CONNECTIONS, RPS_SECONDS),
    );
    results[target.name] = result.requestsPerSecond;
    cpu[target.name] = usageLine(per, "µs", 2);
  }
  const { direct: d, relay: r } = results;
  log(
    `requests/s, ${RPS_CONNECTIONS} connections, ${RPS_SECONDS} s after ${RPS_WARMUP_SECONDS} s warm-up: direct ${fmt(d, 0)}, relay ${fmt(r, 0)}`,
  );
  log(`  CPU µs/wake-ups per request: direct: ${cpu.direct}; relay: ${cpu.relay}`);
  rows.push({
    metric: `req/s, ${RPS_CONNECTIONS} connections`,
    direct: d,
    relay: r,
    digits: 0,
    compare: pct(r / d),
    goal: "relay ≥ 40 % of direct",
    pass: r >= 0.4 * d,
  });
}

/** Sequential echoes on one WebSocket per path (a new one per block), in alternating blocks. */
async function websocket(ctx: Context): Promise<void> {
  const { direct: d, relay: r } = await alternate(ctx, WS_WARMUP, 50, (target, warmup) =>
    websocketEcho(target, warmup, WS_MEASURED / BLOCKS),
  );
  const [d50, r50, d99, r99] = [
    quantile(d.samples, 0.5),
    quantile(r.samples, 0.5),
    quantile(d.samples, 0.99),
    quantile(r.samples, 0.99),
  ];
  log(
    `WebSocket echo, ${WS_MEASURED} sequential after ${WS_WARMUP}: p50 direct ${fmt(d50, 3)} / relay ${fmt(r50, 3)} ms; p99 ${fmt(d99, 3)} / ${fmt(r99, 3)} ms`,
  );
  log(
    `  CPU µs/wake-ups per echo: direct: ${usageLine(d.usage, "µs", 2)}; relay: ${usageLine(r.usage, "µs", 2)}`,
  );
  rows.push({
    metric: "WS echo p50 (ms)",
    direct: d50,
    relay: r50,
    digits: 3,
    compare: `× ${fmt(r50 / d50, 2)}`,
    goal: "relay ≤ 1.5 × direct",
    pass: r50 <= 1.5 * d50,
  });
  rows.push({
    metric: "WS echo p99 (ms)",
    direct: d99,
    relay: r99,
    digits: 3,
    compare: `× ${fmt(r99 / d99, 2)}`,
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

function printTable(): void {
  const header = ["", "direct", "relay", "relay vs direct", "goal", ""];
  const body = rows.map((row) => [
    row.metric,
    row.direct === undefined ? "" : fmt(row.direct, row.digits),
    fmt(row.relay, row.digits),
    row.compare ?? "",
    row.goal ?? "",
    row.pass === undefined ? "" : row.pass ? "PASS" : "MISS",
  ]);
  const widths = header.map((_, i) =>
    Math.max(...[header, ...body].map((line) => line[i]!.length)),
  );
  const numeric = new Set([1, 2, 3]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  log("");
  log(line(header));
  log(line(widths.map((w) => "-".repeat(w))));
  for (const cells of body) log(line(cells));
  const missed = rows.filter((row) => row.pass === false).length;
  const goals = rows.filter((row) => row.pass !== undefined).length;
  log(`\n${goals - missed} of ${goals} goals met`);
}

process.once("SIGINT", () => {
  killAll();
  process.exit(130);
});
process.once("SIGTERM", () => {
  killAll();
  process.exit(143);
});
process.once("exit", killAll);

try {
  await main();
} catch (error) {
  console.error(
    `relay benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  process.exitCode = 1;
} finally {
  await stopAll();
}
// Nothing of the benchmark's should keep the process alive; exit even if a library left a timer behind.
process.exit();
