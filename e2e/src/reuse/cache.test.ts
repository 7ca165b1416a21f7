/**
 * Task output caching: `cache_stamp` (`task({ cache: true })`, a random stamp in its output) feeds an uncached
 * `cache_report`. A second execution with the same inputs reuses the stamp from the cache (no attempt, no agent,
 * no run); other inputs and a changed task body miss it; `run --remote --overwrite-cache` runs it again and
 * replaces the entry. The workflow lives in a user's project so its body can be changed in place.
 */
import { readFile, rm, writeFile } from "node:fs/promises";

import type { ExecutionDetail } from "@drydock/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startStack, tearDown } from "../harness.js";
import type { Stack } from "../harness.js";
import { sampleAgents } from "./agents.js";
import { detailOf, nodeOf, outputBytes, startedId } from "./executions.js";
import { runDir, runsOf } from "./run-markers.js";
import { userProject } from "./user-project.js";
import type { UserProject } from "./user-project.js";

const started: { stack?: Stack } = {};
let stack: Stack;
let project: UserProject;
let dir: string;

beforeAll(async () => {
  project = await userProject({ "cache.ts": "reuse/cache.ts" });
  dir = await runDir();
  stack = started.stack = await startStack();
});

afterAll(async () => {
  await tearDown(started);
  await project?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `run --remote --wait` of the cached workflow; its detail and the attempt ids of the agents seen meanwhile. */
async function runCached(
  options: string[] = [],
  inputs: string[] = [],
): Promise<{ detail: ExecutionDetail; agents: string[] }> {
  const sampler = sampleAgents();
  const run = await project.drydock(
    ["run", "--remote", ...options, "--wait", "cache.ts", "reuse_cache", "--dir", dir, ...inputs],
    stack.env,
  );
  const agents = [...(await sampler.stop())];
  expect(run.code, run.stderr).toBe(0);
  const detail = await detailOf(stack, startedId(run));
  expect(detail.execution.status).toBe("SUCCEEDED");
  // The uncached downstream task always runs.
  expect(nodeOf(detail, "n1").attempts).toHaveLength(1);
  return { detail, agents };
}

const stampRuns = () => runsOf(dir, "cache_stamp");

function expectRanStamp(detail: ExecutionDetail): void {
  const stamp = nodeOf(detail, "n0");
  expect(stamp.reused).toBeUndefined();
  expect(stamp.attempts.map((a) => a.status)).toEqual(["SUCCEEDED"]);
}

function expectCachedStamp(detail: ExecutionDetail, from: ExecutionDetail, agents: string[]): void {
  const stamp = nodeOf(detail, "n0");
  expect(stamp.status).toBe("SUCCEEDED");
  expect(stamp.reused).toMatchObject({
    from: "cache",
    executionId: from.execution.id,
    nodeId: "n0",
  });
  expect(stamp.attempts).toEqual([]);
  expect(outputBytes(stamp)).toBe(outputBytes(nodeOf(from, "n0")));
  // Its output flowed on as if it had run.
  expect(detail.execution.result).toBe(from.execution.result);
  expect(agents.filter((a) => a.startsWith(`${detail.execution.id}.n0.`))).toEqual([]);
  expect(agents).toContain(`${detail.execution.id}.n1.a1`);
}

describe("task output caching", () => {
  it("reuses a cached task's outputs for the same inputs, misses on other inputs and a changed body, and --overwrite-cache runs it again", async () => {
    const first = await runCached();
    expectRanStamp(first.detail);
    expect(await stampRuns()).toBe(1);

    // Same code, same inputs: from the cache, with no agent and no run.
    const second = await runCached();
    expectCachedStamp(second.detail, first.detail, second.agents);
    expect(await stampRuns()).toBe(1);

    // Other inputs: a miss.
    const other = await runCached([], ["--label", "other"]);
    expectRanStamp(other.detail);
    expect(nodeOf(other.detail, "n0").outputs).toMatchObject({ label: "other v1" });
    expect(await stampRuns()).toBe(2);

    // One literal of the task's body changed: a miss.
    const source = project.path("cache.ts");
    const text = await readFile(source, "utf8");
    expect(text).toContain("label} v1`");
    await writeFile(source, text.replace("label} v1`", "label} v2`"));
    const changed = await runCached();
    expectRanStamp(changed.detail);
    expect(nodeOf(changed.detail, "n0").outputs).toMatchObject({ label: "hello v2" });
    expect(await stampRuns()).toBe(3);

    // --overwrite-cache: runs again, and its outputs replace the entry.
    const overwritten = await runCached(["--overwrite-cache"]);
    expectRanStamp(overwritten.detail);
    expect(overwritten.detail.execution.overwriteCache).toBe(true);
    expect(outputBytes(nodeOf(overwritten.detail, "n0"))).not.toBe(
      outputBytes(nodeOf(changed.detail, "n0")),
    );
    expect(await stampRuns()).toBe(4);
    const after = await runCached();
    expectCachedStamp(after.detail, overwritten.detail, after.agents);
    expect(await stampRuns()).toBe(4);

    console.log(
      `cache: runs of the cached task over 6 executions: ${await stampRuns()} ` +
        `(hit: no agent for it; changed body: miss; --overwrite-cache: ran)`,
    );
  });
});
