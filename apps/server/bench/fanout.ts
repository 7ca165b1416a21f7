/**
 * Control-plane benchmark: fan-outs of trivial tasks (1,000 elements, then 10,000) on the local executor, on a
 * server with its default parallelism. The tasks take ~0 ms, so all of the time is platform: scheduling, agent
 * starts, bundle loads, API calls, PostgreSQL. Prints per size: the wall time from launch to SUCCEEDED and the
 * overhead per node (the goal: ≤ 5 ms on 1,000), when the first element started (the start-up: the CLI's
 * launch, the first node's cold agent), the steady state (per element, from the first element's start to the
 * last one's end), and the PostgreSQL statements per node. A second line says where the CPU went, per element:
 * this process (the server), the agents, PostgreSQL, and how many agents started (each pays a cold start).
 * Run: pnpm --filter @drydock/server bench   (SIZES=200 for a quicker look; DRYDOCK_MAX_PARALLEL=4 to compare)
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink } from "@trpc/client";
import pg from "pg";

import { readServerConfig, startServer } from "../src/index.js";
import { endedChildrenCpuMs, ownCpuMs, postgresCpuMs, runningAgents } from "./process-cpu.js";

// Every statement the server sends to PostgreSQL, counted (the pool's clients are pg.Client instances).
let statements = 0;
const clientPrototype = pg.Client.prototype as { query: (...args: unknown[]) => unknown };
const query = Reflect.get<typeof clientPrototype, "query">(clientPrototype, "query");
clientPrototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return Reflect.apply(query, this, args);
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const sizes = (process.env.SIZES ?? "1000,10000").split(",").map(Number);
const GOAL_MS = 5;
// AGENT_NODE_OPTIONS passes options to the agents' Node (`--require` a profiler, say).
const agentOptions: Record<string, string> = process.env.AGENT_NODE_OPTIONS
  ? { NODE_OPTIONS: process.env.AGENT_NODE_OPTIONS }
  : {};

const dataDir = await mkdtemp(join(tmpdir(), "drydock-bench-"));
const config = readServerConfig(
  // The server's own default parallelism unless DRYDOCK_MAX_PARALLEL says otherwise.
  { DRYDOCK_MAX_PARALLEL: process.env.DRYDOCK_MAX_PARALLEL },
  {
    port: 0,
    dataDir,
    logLevel: "warn",
    // What an agent needs of this environment (code-server's scripts run with its PATH).
    agentEnv: { PATH: process.env.PATH ?? "", ...agentOptions },
  },
);
const server = await startServer(config);
try {
  const api = createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Bearer ${server.token}` } }),
    ],
  });
  const rows: string[] = [];
  for (const size of sizes) rows.push(...(await fanOut(api, size)));
  console.log(
    `fan-out benchmark: trivial tasks, local-process executor, ${config.maxParallel} agents in parallel (the server's default) on ${cpus().length} cores`,
  );
  console.log(
    `  ${"elements".padEnd(9)} ${"launch → SUCCEEDED".padEnd(19)} ${"per node".padEnd(9)} ${"first element".padEnd(14)} ${"steady state".padEnd(13)} ${"statements".padEnd(11)} goal`,
  );
  for (const row of rows) console.log(row);
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}

/** Runs one fan-out of `size` elements to SUCCEEDED and returns its rows of the table. */
async function fanOut(
  api: ReturnType<typeof createTRPCClient<AppRouter>>,
  size: number,
): Promise<string[]> {
  const cli = join(root, "apps/cli/dist/cli.js");
  // The CLI runs as its own process (asynchronously: this process hosts the server).
  const run = await promisify(execFile)(
    process.execPath,
    [
      cli,
      "run",
      "--remote",
      join(root, "examples/fanout/workflow.ts"),
      "fanout",
      "--count",
      String(size),
      "--endpoint",
      server.url,
      "--token",
      server.token,
      "--output",
      "json",
    ],
    { encoding: "utf8", env: { ...process.env, CI: "true" } },
  ).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`the launch failed: ${error.stderr ?? error.message}`);
  });
  const { id } = JSON.parse(run.stdout) as { id: string };
  const statementsAtLaunch = statements;
  // The CLI has ended (its CPU is in before.agents): what ends from now on is the execution's agents.
  const before = { server: ownCpuMs(), agents: endedChildrenCpuMs(), postgres: postgresCpuMs() };
  const agents = new Set<number>();
  const seeAgents = setInterval(() => {
    for (const pid of runningAgents()) agents.add(pid);
  }, 50);
  // Poll the cheap list, not the detail of every node, so the benchmark does not load what it measures.
  const running = async () =>
    (await api.executions.list.query({ project: "default", workflow: "fanout", limit: 5 })).some(
      (e) => e.id === id && e.status === "RUNNING",
    );
  while (await running()) await new Promise((r) => setTimeout(r, 250));
  const ran = statements - statementsAtLaunch;
  const cpu = await cpuSince(before, agents);
  clearInterval(seeAgents);
  const detail = await api.executions.get.query({ id });
  if (detail.execution.status !== "SUCCEEDED")
    throw new Error(
      `execution ended ${detail.execution.status}: ${detail.execution.error?.message}`,
    );
  const totalMs =
    Date.parse(detail.execution.endedAt ?? "") - Date.parse(detail.execution.createdAt);
  const elements = detail.nodes.filter((n) => n.parentNodeId !== undefined);
  const firstStart = Math.min(...elements.map((n) => Date.parse(n.startedAt ?? "")));
  const lastEnd = Math.max(...elements.map((n) => Date.parse(n.endedAt ?? "")));
  const perNode = totalMs / detail.nodes.length;
  const verdict = size === 1_000 ? (perNode <= GOAL_MS ? "PASS" : "MISS") : "";
  const perElement = (ms: number) => `${(ms / elements.length).toFixed(1)} ms`;
  const row = [
    `  ${String(size).padEnd(9)}`,
    `${(totalMs / 1000).toFixed(2)} s`.padEnd(19),
    `${perNode.toFixed(1)} ms`.padEnd(9),
    `${((firstStart - Date.parse(detail.execution.createdAt)) / 1000).toFixed(2)} s`.padEnd(14),
    `${((lastEnd - firstStart) / elements.length).toFixed(1)} ms`.padEnd(13),
    `${(ran / detail.nodes.length).toFixed(1)}`.padEnd(11),
    size === 1_000 ? `≤ ${GOAL_MS} ms per node  ${verdict}` : "",
  ].join(" ");
  const total = cpu.server + cpu.agents + cpu.postgres;
  return [
    row,
    `    CPU per element: server ${perElement(cpu.server)}, agents ${perElement(cpu.agents)} (${agents.size} agents started), PostgreSQL ${perElement(cpu.postgres)}; ${perElement(total)} in all, on ${cpus().length} cores`,
  ];
}

/**
 * The CPU the execution cost since `before`, in ms: this process's, its agents' (once every agent has ended,
 * for a while yet after the execution's end: the last warm agents learn there is nothing left), PostgreSQL's.
 */
async function cpuSince(
  before: { server: number; agents: number; postgres: number },
  agents: Set<number>,
): Promise<{ server: number; agents: number; postgres: number }> {
  const server = ownCpuMs() - before.server;
  const postgres = postgresCpuMs() - before.postgres;
  for (let waited = 0; waited < 30_000; waited += 50) {
    const running = runningAgents();
    for (const pid of running) agents.add(pid);
    if (running.length === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { server, agents: endedChildrenCpuMs() - before.agents, postgres };
}
