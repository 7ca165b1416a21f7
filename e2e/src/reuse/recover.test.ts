/**
 * Rerun from failure: a four-node chain (n0 → n1 → n2 → n3) whose n2 fails until the test lets it pass.
 * `drydock recover` (and the console's Recover) start a new execution of the same version that reuses n0 and n1
 * (no attempt, no agent in the process table, the parent's outputs byte for byte) and runs n2 and n3; `--force`
 * runs a node that succeeded again, with its downstream; bad input is refused, creating nothing.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import type { ExecutionDetail } from "@drydock/contracts";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drydock, fixture, launchChromium, removeStack, startStack } from "../harness.js";
import type { Stack } from "../harness.js";
import { pane } from "../debug-and-resume.js";
import { signInPage } from "../sign-in.js";
import { sampleAgents } from "./agents.js";
import {
  childOf,
  dagReusedMarks,
  detailOf,
  ended,
  listedIds,
  nodeOf,
  outputBytes,
  printedChildId,
  startedId,
} from "./executions.js";
import { runDir, runsOf } from "./run-markers.js";

const CHAIN = fixture("reuse/chain.ts");
const TASKS = ["chain_start", "chain_add", "chain_check", "chain_report"] as const;

let stack: Stack;
let browser: Browser | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await browser?.close();
  if (stack) {
    for (const e of await stack.api.executions.list
      .query({ project: "default", status: "RUNNING", limit: 50 })
      .catch(() => []))
      await stack.api.executions.abort.mutate({ id: e.id }).catch(() => undefined);
    await removeStack(stack);
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function newRunDir(): Promise<string> {
  const dir = await runDir();
  dirs.push(dir);
  return dir;
}

/** Runs the chain in `dir` to its failure at n2; the FAILED execution's detail. */
async function failedChain(dir: string): Promise<ExecutionDetail> {
  const run = await drydock(
    ["run", "--remote", CHAIN, "reuse_chain", "--dir", dir, "--wait"],
    stack.env,
  );
  expect(run.code, run.stderr).not.toBe(0);
  const detail = await detailOf(stack, startedId(run));
  expect(detail.execution.status).toBe("FAILED");
  expect(["n0", "n1", "n2"].map((n) => nodeOf(detail, n).status)).toEqual([
    "SUCCEEDED",
    "SUCCEEDED",
    "FAILED",
  ]);
  return detail;
}

const runCounts = async (dir: string) => Promise.all(TASKS.map((task) => runsOf(dir, task)));

/** n0 and n1 reused from `parent`: SUCCEEDED, no attempts, the parent's outputs byte for byte. */
function expectReusedFromParent(
  child: ExecutionDetail,
  parent: ExecutionDetail,
  nodeIds: string[],
): void {
  for (const nodeId of nodeIds) {
    const node = nodeOf(child, nodeId);
    const before = nodeOf(parent, nodeId);
    expect(node.status).toBe("SUCCEEDED");
    expect(node.reused).toMatchObject({
      from: "parent",
      executionId: parent.execution.id,
      nodeId,
    });
    if (node.reused?.attemptId) expect(node.reused.attemptId).toBe(before.attempts.at(-1)?.id);
    expect(node.attempts).toEqual([]);
    expect(outputBytes(node)).toBe(outputBytes(before));
  }
}

function expectRan(child: ExecutionDetail, nodeIds: string[]): void {
  for (const nodeId of nodeIds) {
    const node = nodeOf(child, nodeId);
    expect(node.status).toBe("SUCCEEDED");
    expect(node.reused).toBeUndefined();
    expect(node.attempts.map((a) => a.status)).toEqual(["SUCCEEDED"]);
  }
}

describe("drydock recover", () => {
  let dir: string;
  let parent: ExecutionDetail;

  it("runs only the failed node and its downstream: n0 and n1 are reused byte for byte, and no agent starts for them", async () => {
    dir = await newRunDir();
    parent = await failedChain(dir);
    expect(await runCounts(dir)).toEqual([1, 1, 1, 0]);

    await writeFile(join(dir, "n2.pass"), "");
    const agents = sampleAgents();
    const recover = await drydock(["recover", parent.execution.id, "--wait"], stack.env);
    const seen = [...(await agents.stop())];
    expect(recover.code, recover.stderr).toBe(0);

    const childId = printedChildId(recover, parent.execution.id);
    const child = await detailOf(stack, childId);
    expect(child.execution).toMatchObject({
      status: "SUCCEEDED",
      workflow: "reuse_chain",
      version: parent.execution.version,
      inputs: parent.execution.inputs,
      parent: { executionId: parent.execution.id, kind: "recover", force: [] },
    });
    expect(child.execution.result).toBe("value 20");
    expectReusedFromParent(child, parent, ["n0", "n1"]);
    expectRan(child, ["n2", "n3"]);
    // The tasks themselves say the same: n0 and n1 never ran again.
    expect(await runCounts(dir)).toEqual([1, 1, 2, 1]);

    // The process table: agents for n2 and n3 of the new execution, none for n0 or n1 (of either execution).
    const agentsOf = (nodeId: string) =>
      seen.filter(
        (a) =>
          a.startsWith(`${childId}.${nodeId}.`) ||
          a.startsWith(`${parent.execution.id}.${nodeId}.`),
      );
    expect(seen).toEqual(expect.arrayContaining([`${childId}.n2.a1`, `${childId}.n3.a1`]));
    expect([...agentsOf("n0"), ...agentsOf("n1")]).toEqual([]);
    console.log(
      `recover: n0,n1 reused from ${parent.execution.id}; agents seen for n0/n1: ` +
        `${agentsOf("n0").length + agentsOf("n1").length}, for n2/n3: ${agentsOf("n2").length},${agentsOf("n3").length}; ` +
        `attempts n0..n3: ${child.nodes.map((n) => n.attempts.length).join(",")}`,
    );
  });

  it("--force n1 runs n1 again with everything downstream, still reusing n0", async () => {
    const agents = sampleAgents();
    const recover = await drydock(
      ["recover", parent.execution.id, "--force", "n1", "--wait"],
      stack.env,
    );
    const seen = [...(await agents.stop())];
    expect(recover.code, recover.stderr).toBe(0);
    const childId = printedChildId(recover, parent.execution.id);
    const child = await detailOf(stack, childId);
    expect(child.execution).toMatchObject({
      status: "SUCCEEDED",
      parent: { executionId: parent.execution.id, kind: "recover", force: ["n1"] },
    });
    expectReusedFromParent(child, parent, ["n0"]);
    expectRan(child, ["n1", "n2", "n3"]);
    // n1 ran, so its output is a new one (its seed is random).
    expect(outputBytes(nodeOf(child, "n1"))).not.toBe(outputBytes(nodeOf(parent, "n1")));
    expect(await runCounts(dir)).toEqual([1, 2, 3, 2]);
    expect(seen.filter((a) => a.startsWith(`${childId}.n0.`))).toEqual([]);
    console.log(
      `recover --force n1: n0 reused; attempts n0..n3: ${child.nodes.map((n) => n.attempts.length).join(",")}`,
    );
  });

  it("refuses an unknown execution, an unknown node in --force and a RUNNING execution, naming the problem and creating nothing", async () => {
    const slow = await drydock(
      ["run", "--remote", fixture("slow.ts"), "slow", "--seconds", "600"],
      stack.env,
    );
    expect(slow.code, slow.stderr).toBe(0);
    const running = startedId(slow);
    const before = await listedIds(stack);

    const unknown = await drydock(["recover", "xnosuchexecution"], stack.env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("xnosuchexecution");

    const badNode = await drydock(["recover", parent.execution.id, "--force", "n9"], stack.env);
    expect(badNode.code).not.toBe(0);
    expect(badNode.stderr).toContain("n9");

    const live = await drydock(["recover", running], stack.env);
    expect(live.code).not.toBe(0);
    expect(live.stderr).toMatch(/running/i);

    for (const r of [unknown, badNode, live]) expect(r.stderr).not.toMatch(/\n\s+at /);
    console.log(
      `recover refusals:\n${[unknown, badNode, live].map((r) => `  ${r.stderr.trim()}`).join("\n")}`,
    );
    expect(await listedIds(stack)).toEqual(before);

    await stack.api.executions.abort.mutate({ id: running });
    expect((await ended(stack, running)).execution.status).toBe("ABORTED");
  });
});

describe("the console's Recover", () => {
  it("on a FAILED execution starts the recovery, and its DAG marks n0 and n1 reused from the parent", async () => {
    const dir = await newRunDir();
    const parent = await failedChain(dir);
    await writeFile(join(dir, "n2.pass"), "");

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signInPage(page, stack);
    await page.goto(`${stack.url}/executions/${parent.execution.id}?node=n2`);
    await pane(page).waitFor();
    await page.getByRole("button", { name: "Recover", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Start recovery" }).click();

    const childId = await childOf(stack, parent.execution.id);
    const child = await ended(stack, childId);
    expect(child.execution.status).toBe("SUCCEEDED");
    expect(child.execution.parent).toMatchObject({
      executionId: parent.execution.id,
      kind: "recover",
    });
    expectReusedFromParent(child, parent, ["n0", "n1"]);
    expectRan(child, ["n2", "n3"]);

    expect(await dagReusedMarks(page, stack, childId, ["n0", "n1", "n2", "n3"])).toEqual([
      "parent",
      "parent",
      null,
      null,
    ]);
    await context.close();
  });
});
