import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { ExecutionDetail } from "@drydock/contracts";
import { afterAll, describe, expect, it } from "vitest";

import { drydock, fixture, processTable, removeStack, startStack, waitFor } from "./harness.js";
import type { Stack } from "./harness.js";

const stacks: Stack[] = [];
let markers = "";
afterAll(async () => {
  for (const s of stacks) await removeStack(s);
  if (markers) await rm(markers, { recursive: true, force: true });
});

async function countFiles(dir: string, name: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile() && entry.name === name) count++;
  return count;
}

describe("a server killed with SIGKILL mid-pipeline", () => {
  it("completes the execution after it restarts, running and writing each node once", async () => {
    markers = await mkdtemp(join(tmpdir(), "drydock-restart-"));
    const first = await startStack();
    stacks.push(first);
    const port = Number(new URL(first.url).port);
    const r = await drydock(["run", "--remote", fixture("restart.ts"), "restart", "--dir", markers, "--count", "3"], first.env);
    expect(r.code).toBe(0);
    const id = r.stdout.match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";

    // Kill it while the fan-out runs: the first node is done, the squares are in flight.
    await waitFor("the fan-out to start", async () => {
      const d = await first.api.executions.get.query({ id });
      return d.nodes.some((n) => n.parentNodeId && n.status === "RUNNING") ? true : undefined;
    });
    await first.kill();

    const second = await startStack({ dataDir: first.dataDir, home: first.home, port });
    stacks.push(second);
    const done = await waitFor(
      "the execution to finish",
      async () => {
        const d: ExecutionDetail = await second.api.executions.get.query({ id });
        return d.execution.status === "RUNNING" ? undefined : d;
      },
      90_000,
    );
    expect(done.execution.status).toBe("SUCCEEDED");
    expect(done.execution.result).toBe(1 + 4 + 9);

    const runs = (await readFile(join(markers, "runs.log"), "utf8")).trim().split("\n").sort();
    expect(runs).toEqual(["numbers", "square 1", "square 2", "square 3", "sum"]);
    // n1 is the fan-out itself: its elements n1[0..2] ran, it has no attempt of its own.
    for (const node of done.nodes) expect(node.attempts.map((a) => a.status), node.nodeId).toEqual(node.nodeId === "n1" ? [] : ["SUCCEEDED"]);
    // One outputs blob per node that ran a task: numbers, three squares, sum.
    expect(await countFiles(join(first.dataDir, "blobs", "executions", id), "outputs.json")).toBe(5);
    expect((await processTable()).filter((p) => p.cmdline.includes(id))).toEqual([]);
  });
});
