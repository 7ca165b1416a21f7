/**
 * Control-plane benchmark: a 1,000-node fan-out of trivial tasks on the local executor.
 * Prints the wall time from launch to SUCCEEDED and the platform overhead per node (the tasks themselves
 * take ~0 ms, so all of it is platform: scheduling, agent start, bundle load, API calls).
 * Run: pnpm --filter @drydock/server bench   (NODES=200 for a quicker look)
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink } from "@trpc/client";

import { readServerConfig, startServer } from "../src/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const nodes = Number(process.env.NODES ?? 1_000);
const parallel = Number(process.env.DRYDOCK_MAX_PARALLEL ?? cpus().length * 2);

const dataDir = await mkdtemp(join(tmpdir(), "drydock-bench-"));
const server = await startServer(
  readServerConfig({}, { port: 0, dataDir, maxParallel: parallel, logLevel: "warn" }),
);
try {
  const api = createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Bearer ${server.token}` } }),
    ],
  });
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
      String(nodes),
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
  // Poll the cheap list, not the 1,000-node detail, so the benchmark does not load what it measures.
  const running = async () =>
    (await api.executions.list.query({ project: "default", workflow: "fanout", limit: 5 })).some(
      (e) => e.id === id && e.status === "RUNNING",
    );
  while (await running()) await new Promise((r) => setTimeout(r, 250));
  const detail = await api.executions.get.query({ id });
  if (detail.execution.status !== "SUCCEEDED")
    throw new Error(
      `execution ended ${detail.execution.status}: ${detail.execution.error?.message}`,
    );
  const totalMs =
    Date.parse(detail.execution.endedAt ?? "") - Date.parse(detail.execution.createdAt);
  const taskNodes = detail.nodes.filter((n) => n.parentNodeId !== undefined).length;
  console.log(
    `fan-out benchmark: ${taskNodes} trivial tasks (+${detail.nodes.length - taskNodes} other nodes), local-process executor, ${parallel} in parallel on ${cpus().length} cores`,
  );
  console.log(`  total ${(totalMs / 1000).toFixed(2)} s launch → SUCCEEDED`);
  console.log(
    `  platform overhead per node: ${(totalMs / detail.nodes.length).toFixed(1)} ms (goal ≤ 5 ms)`,
  );
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
