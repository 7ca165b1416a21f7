import { createHash } from "node:crypto";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";

import { packBundle, taskCodeAt } from "@drydock/bundle";
import type {
  ExecutionEvent,
  JsonValue,
  NodeExecution,
  TaskSpec,
  WorkflowSpec,
} from "@drydock/contracts";
import { LOCAL_ADMIN_ID } from "@drydock/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { testDatabase } from "../__tests__/postgres.js";
import { pipelineSpec, registerWorkflow, testTask as task } from "../__tests__/pipeline.js";
import { attemptAndNode, ScriptedExecutor } from "../__tests__/scripted-executor.js";
import { testServices } from "../__tests__/services.js";
import type { LocalBlobStore } from "../blobs/blob-store.js";
import type { Db } from "../db/database.js";
import type { ExecutionService } from "./executions.js";
import { cacheKey, canonicalJson, inputsHash, mustRunNodes, taskFingerprint } from "./reuse.js";
import type { Scheduler } from "./scheduler.js";
import type { SessionService } from "./sessions.js";
import type { WorkflowService } from "./workflows.js";
import { bundleKey } from "./workflows.js";

describe("fingerprints", () => {
  it("canonicalJson sorts keys at every depth, keeps array order, leaves undefined members out", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson([undefined, "x"])).toBe('[null,"x"]');
    expect(inputsHash({ x: 1, y: [1, 2] })).toBe(inputsHash({ y: [1, 2], x: 1 }));
    expect(inputsHash({ x: 1, y: [1, 2] })).not.toBe(inputsHash({ x: 1, y: [2, 1] }));
    expect(inputsHash({ s: "\u0000" })).not.toBe(inputsHash({ s: "" }));
  });

  it("a task's fingerprint follows its code (or, without it, its bundle) and interface; a cache version overrides it", () => {
    const base = task("t", ["x"], { code: { sha256: "1".repeat(64) } });
    const fp = taskFingerprint(base, "b1");
    expect(taskFingerprint(base, "b2")).toBe(fp);
    expect(taskFingerprint({ ...base, code: { sha256: "2".repeat(64) } }, "b1")).not.toBe(fp);
    expect(taskFingerprint({ ...base, output: { type: "string" } }, "b1")).not.toBe(fp);
    expect(taskFingerprint({ ...base, retries: 3 }, "b1")).toBe(fp);
    const bare = task("t", ["x"]);
    expect(taskFingerprint(bare, "b1")).not.toBe(taskFingerprint(bare, "b2"));
    expect(cacheKey({ ...base, cache: {} }, "b1")).toBe(`f:${fp}`);
    expect(cacheKey({ ...base, cache: { version: "7" } }, "b1")).toBe("v:7");
  });

  it("the nodes that must run: forced ones or the forked one, tasks the edit changed, and all downstream", () => {
    const spec = chainSpec();
    expect([...mustRunNodes(spec, { executionId: "x", kind: "recover", force: [] })]).toEqual([]);
    expect(
      [...mustRunNodes(spec, { executionId: "x", kind: "recover", force: ["n1"] })].sort(),
    ).toEqual(["n1", "n2", "n3"]);
    const pipe = pipelineSpec({ kind: "node", node: "n2" });
    expect(
      [
        ...mustRunNodes(pipe, { executionId: "x", kind: "fork", nodeId: "n1[2]", force: [] }),
      ].sort(),
    ).toEqual(["n1", "n2"]);
    const lineage = {
      version: "v",
      executionId: "x",
      nodeId: "n2",
      sessionId: "s",
      patch: "",
      changedTasks: ["range"],
    };
    expect(
      [
        ...mustRunNodes(pipe, { executionId: "x", kind: "fork", nodeId: "n2", force: [] }, lineage),
      ].sort(),
    ).toEqual(["n0", "n1", "n2"]);
  });
});

/** n0 → n1 → n2 → n3, tasks a, b, c, d; each adds its letter to what it is given. */
function chainSpec(): WorkflowSpec {
  const ids = ["n0", "n1", "n2", "n3"];
  return {
    name: "chain",
    inputs: { start: {} },
    required: ["start"],
    nodes: ids.map((id, i) => ({
      kind: "task" as const,
      id,
      task: "abcd"[i] as string,
      inputs: {
        x:
          i === 0 ? { kind: "input" as const, name: "start" } : { kind: "node", node: ids[i - 1]! },
      },
    })),
    output: { kind: "node", node: "n3" },
  };
}
const chainTasks = (extra: Partial<TaskSpec> = {}) =>
  ["a", "b", "c", "d"].map((name) => task(name, ["x"], extra));

let pg: Awaited<ReturnType<typeof testDatabase>>;
let db: Db;
let services: Awaited<ReturnType<typeof testServices>>;
let blobs: LocalBlobStore;
let scheduler: Scheduler;
let workflows: WorkflowService;
let executions: ExecutionService;
let sessions: SessionService;
const executor = new ScriptedExecutor();
const BUNDLE = "d".repeat(64);
let seq = 0;

beforeAll(async () => {
  pg = await testDatabase();
  db = pg.db;
  services = await testServices(pg, executor);
  ({ blobs, scheduler, workflows, executions, sessions } = services);
  await db.insertInto("bundles").values({ sha256: BUNDLE, size: 1 }).execute();
  await scheduler.start();
});
afterAll(async () => {
  await scheduler.stop();
  await pg.close();
});

/** What each task returns: an object whose bytes a reuse must keep exactly. */
function compute(taskName: string, inputs: Record<string, JsonValue>): JsonValue {
  if (taskName === "range") return Array.from({ length: inputs.n as number }, (_, k) => k + 1);
  if (taskName === "square") return (inputs.x as number) ** 2;
  if (taskName === "sum") return (inputs.xs as number[]).reduce((a, b) => a + b, 0);
  if (taskName === "load") return 2;
  if (taskName === "train") return (inputs.n as number) * 3 + 1;
  if (taskName === "report") return `trained ${inputs.n as number}`;
  const x = inputs.x as string | { path: string };
  return {
    path: `${typeof x === "string" ? x : x.path}/${taskName}`,
    z: 1,
    a: [taskName],
  };
}

/** Agents that report through the scheduler; `fail` decides which nodes fail, `hang` which never end. */
function agents(
  how: {
    fail?: (task: string, inputs: Record<string, JsonValue>) => boolean;
    hang?: string;
    before?: (executionId: string, nodeId: string) => Promise<void>;
  } = {},
) {
  executor.behaviour = async ({ attemptId }) => {
    await scheduler.attemptStarted(attemptId, 4242);
    const { attempt: a, node } = await attemptAndNode(db, attemptId);
    const inputs = node.inputs as Record<string, JsonValue>;
    if (node.task === how.hang) return new Promise(() => undefined);
    if (how.fail?.(node.task, inputs)) {
      await how.before?.(a.execution_id, a.node_id);
      return scheduler.attemptFailed(attemptId, "FAILED", { message: `${node.task} failed` });
    }
    const outputs = compute(node.task, inputs);
    const sha = createHash("sha256").update(JSON.stringify(outputs)).digest("hex");
    await scheduler.attemptSucceeded(attemptId, sha, outputs);
  };
}

async function register(spec: WorkflowSpec, tasks: TaskSpec[], bundle = BUNDLE): Promise<string> {
  const version = `v${++seq}`;
  await registerWorkflow(db, spec, tasks, version, bundle);
  return version;
}

async function start(
  spec: WorkflowSpec,
  version: string,
  inputs: Record<string, JsonValue>,
  more: { overwriteCache?: boolean } = {},
): Promise<string> {
  const id = `x${++seq}`;
  await scheduler.startExecution({
    id,
    project: "default",
    workflow: spec.name,
    version,
    inputs,
    ...more,
  });
  return id;
}

async function ended(id: string, status = "SUCCEEDED") {
  await vi.waitFor(async () => expect((await executions.execution(id)).status).toBe(status), {
    timeout: 5_000,
    interval: 20,
  });
  return executions.detail(id);
}

const byId = (nodes: NodeExecution[]) => new Map(nodes.map((n) => [n.nodeId, n]));

/** Each node's outputs exactly as stored (the JSON text). */
async function storedOutputs(executionId: string): Promise<Map<string, string | null>> {
  const rows = await db
    .selectFrom("node_executions")
    .select(["node_id", sql<string | null>`outputs::text`.as("text")])
    .where("execution_id", "=", executionId)
    .execute();
  return new Map(rows.map((r) => [r.node_id, r.text]));
}

async function attemptNodes(executionId: string): Promise<string[]> {
  const rows = await db
    .selectFrom("attempts")
    .select("node_id")
    .where("execution_id", "=", executionId)
    .orderBy("node_id")
    .execute();
  return rows.map((r) => r.node_id);
}

const refusal = (code: string, kind: string, says: string) => ({
  name: "AppError",
  code,
  kind,
  message: expect.stringContaining(says) as string,
});

describe("ExecutionService.recover (drydock recover)", () => {
  it("re-runs a failed chain from its failure: upstream nodes reused byte for byte with no attempt, the failed node and its downstream run", async () => {
    const spec = chainSpec();
    const version = await register(spec, chainTasks());
    agents({ fail: (t) => t === "c" });
    const failed = await start(spec, version, { start: "in" });
    await ended(failed, "FAILED");
    const parentAttempts = await db
      .selectFrom("attempts")
      .select(["id", "node_id", "outputs_sha256"])
      .where("execution_id", "=", failed)
      .execute();

    agents();
    const recovered = await executions.recover(failed, [], LOCAL_ADMIN_ID);
    expect(recovered).toMatchObject({
      version,
      inputs: { start: "in" },
      parent: { executionId: failed, kind: "recover", force: [] },
      overwriteCache: false,
    });
    const detail = await ended(recovered.id);
    expect(detail.execution.result).toEqual({ path: "in/a/b/c/d", z: 1, a: ["d"] });
    const nodes = byId(detail.nodes);
    for (const id of ["n0", "n1"]) {
      const from = parentAttempts.find((a) => a.node_id === id);
      expect(nodes.get(id)).toMatchObject({
        status: "SUCCEEDED",
        attempts: [],
        reused: {
          from: "parent",
          executionId: failed,
          nodeId: id,
          attemptId: from?.id,
          outputsSha256: from?.outputs_sha256,
        },
      });
    }
    expect(nodes.get("n2")?.reused).toBeUndefined();
    expect(nodes.get("n3")?.attempts).toHaveLength(1);
    // No agent for n0 and n1: only n2 and n3 have attempts; their reused outputs are the parent's exact text.
    expect(await attemptNodes(recovered.id)).toEqual(["n2", "n3"]);
    expect(executor.launched.filter((a) => a.startsWith(`${recovered.id}.`)).sort()).toEqual([
      `${recovered.id}.n2.a1`,
      `${recovered.id}.n3.a1`,
    ]);
    const before = await storedOutputs(failed);
    const after = await storedOutputs(recovered.id);
    expect(after.get("n0")).toBe(before.get("n0"));
    expect(after.get("n1")).toBe(before.get("n1"));
    expect(
      (await executions.list({ project: "default", limit: 100 })).find(
        (e) => e.id === recovered.id,
      ),
    ).toMatchObject({
      parent: { executionId: failed, kind: "recover" },
      overwriteCache: false,
    });

    // --force n1 on the recovered (SUCCEEDED) one: n1 and all downstream run; n0 keeps its first source.
    const events: ExecutionEvent[] = [];
    const forcedId = `x${++seq}`;
    const off = services.bus.subscribe(forcedId, (e) => events.push(e));
    await scheduler.startExecution({
      id: forcedId,
      project: "default",
      workflow: "chain",
      version,
      inputs: { start: "in" },
      parent: { executionId: recovered.id, kind: "recover", force: ["n1"] },
    });
    const forced = await ended(forcedId);
    off();
    expect(await attemptNodes(forcedId)).toEqual(["n1", "n2", "n3"]);
    const n0 = byId(forced.nodes).get("n0");
    expect(n0?.reused).toEqual({
      from: "parent",
      executionId: failed,
      nodeId: "n0",
      attemptId: parentAttempts.find((a) => a.node_id === "n0")?.id,
      outputsSha256: parentAttempts.find((a) => a.node_id === "n0")?.outputs_sha256,
    });
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "node",
        nodeId: "n0",
        status: "SUCCEEDED",
        reused: n0?.reused,
      }),
    );
    expect(
      events.filter((e) => e.type === "node" && e.nodeId !== "n0" && "reused" in e && e.reused),
    ).toEqual([]);

    // Through the service, --force on a succeeded execution is what recovers it.
    const again = await executions.recover(recovered.id, ["n3", "n3"]);
    expect(again.parent).toEqual({ executionId: recovered.id, kind: "recover", force: ["n3"] });
    await ended(again.id);
    expect(await attemptNodes(again.id)).toEqual(["n3"]);
  });

  it("re-runs only the failed element of a fan-out; a task whose fingerprint changed runs again", async () => {
    const spec = pipelineSpec({ kind: "node", node: "n2" });
    const tasks = [task("range", ["n"]), task("square", ["x"]), task("sum", ["xs"])];
    const squareSpec: WorkflowSpec = {
      ...spec,
      nodes: spec.nodes.map((n) => (n.kind === "map" ? { ...n, inputs: {} } : n)),
    };
    const version = await register(squareSpec, tasks);
    // Element 1 fails once its siblings succeeded, so theirs are there to reuse.
    agents({
      fail: (t, i) => t === "square" && i.x === 2,
      before: (executionId) =>
        vi.waitFor(
          async () => {
            const done = await db
              .selectFrom("node_executions")
              .select("node_id")
              .where("execution_id", "=", executionId)
              .where("node_id", "in", ["n1[0]", "n1[2]"])
              .where("status", "=", "SUCCEEDED")
              .execute();
            expect(done).toHaveLength(2);
          },
          { timeout: 5_000, interval: 20 },
        ),
    });
    const failed = await start(squareSpec, version, { count: 3 });
    await ended(failed, "FAILED");

    agents();
    const recovered = await executions.recover(failed, []);
    const detail = await ended(recovered.id);
    expect(detail.execution.result).toBe(14);
    expect(await attemptNodes(recovered.id)).toEqual(["n1[1]", "n2"]);
    const nodes = byId(detail.nodes);
    expect(nodes.get("n1[0]")?.reused).toMatchObject({ from: "parent", nodeId: "n1[0]" });
    expect(nodes.get("n1[2]")?.reused).toMatchObject({ from: "parent", nodeId: "n1[2]" });
    expect(nodes.get("n1[1]")?.reused).toBeUndefined();
    expect(nodes.get("n1")?.outputs).toEqual([1, 4, 9]);

    // Recovering it with every element reused: the fan-out succeeds at once, with no attempt at all.
    const whole = await executions.recover(recovered.id, ["n2"]);
    await ended(whole.id);
    expect(await attemptNodes(whole.id)).toEqual(["n2"]);
    expect((await storedOutputs(whole.id)).get("n1")).toBe(
      (await storedOutputs(recovered.id)).get("n1"),
    );

    // The parent's version had "square" with another interface: its outputs are not this task's.
    const changed = await register(squareSpec, [
      tasks[0]!,
      task("square", ["x"], { output: { type: "number" } }),
      tasks[2]!,
    ]);
    const other = `x${++seq}`;
    await scheduler.startExecution({
      id: other,
      project: "default",
      workflow: "pipe",
      version: changed,
      inputs: { count: 3 },
      parent: { executionId: recovered.id, kind: "recover", force: [] },
    });
    await ended(other);
    // Its elements run; sum, the same task with the same inputs again, is reused.
    expect(await attemptNodes(other)).toEqual(["n1[0]", "n1[1]", "n1[2]"]);
  });

  it("refuses unknown executions, running ones, succeeded ones without --force, unknown nodes and debug runs", async () => {
    const spec = chainSpec();
    const version = await register(spec, chainTasks());
    agents();
    const done = await start(spec, version, { start: "r" });
    await ended(done);
    await expect(executions.recover("xnosuch", [])).rejects.toMatchObject(
      refusal("EXECUTION_NOT_FOUND", "NOT_FOUND", 'execution "xnosuch" does not exist'),
    );
    await expect(executions.recover(done, [])).rejects.toMatchObject(
      refusal(
        "EXECUTION_NOT_RECOVERABLE",
        "CONFLICT",
        `execution "${done}" cannot be recovered: it succeeded; name nodes to run again with --force`,
      ),
    );
    await expect(executions.recover(done, ["n1", "n9", "x"])).rejects.toMatchObject(
      refusal(
        "FORCE_NODE_NOT_FOUND",
        "BAD_REQUEST",
        `execution "${done}" has no node "n9", "x" to force; its workflow's nodes are n0, n1, n2, n3`,
      ),
    );
    const debug = await executions.debug(done, "n1");
    await ended(debug.id);
    await expect(executions.recover(debug.id, ["n1"])).rejects.toMatchObject(
      refusal("EXECUTION_NOT_RECOVERABLE", "CONFLICT", 'it is a debug run of node "n1"'),
    );

    agents({ hang: "b" });
    const running = await start(spec, version, { start: "r" });
    await expect(executions.recover(running, [])).rejects.toMatchObject(
      refusal(
        "EXECUTION_NOT_RECOVERABLE",
        "CONFLICT",
        "it is RUNNING; recover it once it has ended, or abort it first",
      ),
    );
    const count = await db
      .selectFrom("executions")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("parent_id", "in", [done, running, debug.id])
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
    // Aborted (once n0 succeeded), it can be recovered.
    await vi.waitFor(
      async () =>
        expect(byId((await executions.detail(running)).nodes).get("n1")?.status).toBe("RUNNING"),
      { timeout: 5_000, interval: 20 },
    );
    await executions.abort(running);
    agents();
    const recovered = await executions.recover(running, []);
    await ended(recovered.id);
    expect(await attemptNodes(recovered.id)).toEqual(["n1", "n2", "n3"]);
  });
});

describe("the task cache", () => {
  const spec: WorkflowSpec = {
    name: "cached",
    inputs: { start: {} },
    required: ["start"],
    nodes: [
      { kind: "task", id: "n0", task: "a", inputs: { x: { kind: "input", name: "start" } } },
      { kind: "task", id: "n1", task: "b", inputs: { x: { kind: "node", node: "n0" } } },
    ],
    output: { kind: "node", node: "n1" },
  };
  const tasksWith = (b: Partial<TaskSpec>) => [task("a", ["x"]), task("b", ["x"], b)];
  const entryOf = (start: string, key: string) =>
    db
      .selectFrom("task_cache")
      .selectAll()
      .where("task", "=", "b")
      .where("cache_key", "=", key)
      .where("inputs_sha256", "=", inputsHash({ x: compute("a", { x: start }) }))
      .executeTakeFirst();

  it("reuses a cached task's outputs for the same inputs and code, from any earlier execution; misses otherwise", async () => {
    agents();
    const code1 = { sha256: "1".repeat(64) };
    const v1 = await register(spec, tasksWith({ cache: {}, code: code1 }));
    const first = await start(spec, v1, { start: "c1" });
    await ended(first);
    const key = cacheKey(task("b", ["x"], { cache: {}, code: code1 }), BUNDLE);
    expect(await entryOf("c1", key)).toMatchObject({
      execution_id: first,
      node_id: "n1",
      attempt_id: `${first}.n1.a1`,
    });

    const second = await start(spec, v1, { start: "c1" });
    const detail = await ended(second);
    expect(await attemptNodes(second)).toEqual(["n0"]);
    const firstAttempt = await db
      .selectFrom("attempts")
      .select("outputs_sha256")
      .where("id", "=", `${first}.n1.a1`)
      .executeTakeFirstOrThrow();
    expect(byId(detail.nodes).get("n1")?.reused).toEqual({
      from: "cache",
      executionId: first,
      nodeId: "n1",
      attemptId: `${first}.n1.a1`,
      outputsSha256: firstAttempt.outputs_sha256,
    });
    expect((await storedOutputs(second)).get("n1")).toBe((await storedOutputs(first)).get("n1"));

    // Other inputs: it runs.
    const other = await start(spec, v1, { start: "c2" });
    await ended(other);
    expect(await attemptNodes(other)).toEqual(["n0", "n1"]);
    // Another code hash (the task body changed): it runs.
    const v2 = await register(spec, tasksWith({ cache: {}, code: { sha256: "2".repeat(64) } }));
    const changed = await start(spec, v2, { start: "c1" });
    await ended(changed);
    expect(await attemptNodes(changed)).toEqual(["n0", "n1"]);
  });

  it("a cache version outlives code changes; --overwrite-cache runs the task and replaces the entry", async () => {
    agents();
    const v1 = await register(
      spec,
      tasksWith({ cache: { version: "1" }, code: { sha256: "3".repeat(64) } }),
    );
    const first = await start(spec, v1, { start: "cv" });
    await ended(first);
    const v2 = await register(
      spec,
      tasksWith({ cache: { version: "1" }, code: { sha256: "4".repeat(64) } }),
    );
    const hit = await start(spec, v2, { start: "cv" });
    await ended(hit);
    expect(await attemptNodes(hit)).toEqual(["n0"]);

    const overwritten = await executions.create({
      project: "default",
      workflow: "cached",
      version: v2,
      inputs: { start: "cv" },
      overwriteCache: true,
    });
    expect(overwritten.overwriteCache).toBe(true);
    await ended(overwritten.id);
    expect(await attemptNodes(overwritten.id)).toEqual(["n0", "n1"]);
    expect(await entryOf("cv", "v:1")).toMatchObject({
      execution_id: overwritten.id,
      attempt_id: `${overwritten.id}.n1.a1`,
    });
    // The next execution reuses the replaced entry.
    const next = await start(spec, v2, { start: "cv" });
    const detail = await ended(next);
    expect(byId(detail.nodes).get("n1")?.reused).toMatchObject({
      from: "cache",
      executionId: overwritten.id,
    });
  });

  it("interactive tasks and debug runs never read nor write the cache", async () => {
    agents();
    const interactive = {
      enable: true,
      maxIdleSeconds: 60,
      runTaskFirst: true,
      preExecute: false,
      extensions: [],
    };
    const vi1 = await register(spec, tasksWith({ cache: {}, interactive }));
    for (let i = 0; i < 2; i++) {
      const id = await start(spec, vi1, { start: "ci" });
      await ended(id);
      expect(await attemptNodes(id)).toEqual(["n0", "n1"]);
    }
    const none = await db
      .selectFrom("task_cache")
      .select("execution_id")
      .where("inputs_sha256", "=", inputsHash({ x: compute("a", { x: "ci" }) }))
      .execute();
    expect(none).toEqual([]);

    // A debug run of a cached node runs it, though the cache holds its outputs, and leaves the entry alone.
    const v = await register(spec, tasksWith({ cache: { version: "dbg" } }));
    const first = await start(spec, v, { start: "cd" });
    await ended(first);
    const debug = await executions.debug(first, "n1");
    await ended(debug.id);
    expect(await attemptNodes(debug.id)).toEqual(["n1"]);
    expect(await entryOf("cd", "v:dbg")).toMatchObject({ execution_id: first });
  });
});

/** A small project: load → train → report, each task's code recorded as `drydock register` does. */
const WORKFLOW = [
  'import { task } from "./lib/task.ts";',
  "",
  "export const load = task(",
  '  { name: "load" },',
  "  async () => 2,",
  ");",
  "",
  "export const train = task(",
  '  { name: "train" },',
  "  async ({ n }: { n: number }) => {",
  "    const doubled = n * 2;",
  "    return doubled + 1;",
  "  },",
  ");",
  "",
  'export const report = task({ name: "report" }, async ({ n }: { n: number }) => `trained ${n}`);',
  "",
].join("\n");
const TASK_LIB =
  "export function task<T>(options: { name: string }, fn: T): T {\n  return Object.assign(fn as object, { options }) as T;\n}\n";
/** The IDE's edit of train's body, as the agent saves it. */
const EDIT = [
  "--- a/workflow.ts",
  "+++ b/workflow.ts",
  "@@ -9,5 +9,5 @@",
  '   { name: "train" },',
  "   async ({ n }: { n: number }) => {",
  "-    const doubled = n * 2;",
  "+    const doubled = n * 3;",
  "     return doubled + 1;",
  "   },",
  "",
].join("\n");

describe("ExecutionService.fork (drydock fork)", () => {
  const spec: WorkflowSpec = {
    name: "trainer",
    inputs: {},
    required: [],
    nodes: [
      { kind: "task", id: "n0", task: "load", inputs: {} },
      { kind: "task", id: "n1", task: "train", inputs: { n: { kind: "node", node: "n0" } } },
      { kind: "task", id: "n2", task: "report", inputs: { n: { kind: "node", node: "n1" } } },
    ],
    output: { kind: "node", node: "n2" },
  };
  let scratch: string;
  let registered: { version: string; bundle: string };

  beforeAll(async () => {
    scratch = await realpath(await mkdtemp(join(tmpdir(), "drydock-fork-server-")));
    for (const [path, text] of Object.entries({
      "package.json": JSON.stringify({ name: "fork-fixture", private: true, type: "module" }),
      "workflow.ts": WORKFLOW,
      "lib/task.ts": TASK_LIB,
    })) {
      await mkdir(dirname(join(scratch, path)), { recursive: true });
      await writeFile(join(scratch, path), text);
    }
    const packed = await packBundle(join(scratch, "workflow.ts"));
    await blobs.write(bundleKey(packed.sha256), packed.tarball, packed.size);
    await workflows.bundleUploaded(packed.sha256, packed.size);
    const lines = WORKFLOW.split("\n");
    const tasks = ["load", "train", "report"].map((name) => ({
      ...task(name, name === "load" ? [] : ["n"]),
      sourceFile: "workflow.ts",
      code: taskCodeAt(
        WORKFLOW,
        "workflow.ts",
        lines.findIndex((l) => l.startsWith(`export const ${name} = task(`)) + 1,
      ),
    }));
    const origin = {
      host: "laptop",
      root: scratch,
      files: { "workflow.ts": "e".repeat(64) },
    };
    const input = {
      project: "default",
      bundle: packed.sha256,
      entry: packed.manifest.entry,
      tasks,
      workflows: [spec],
    };
    const [first] = (await workflows.register({ ...input, origin: { ...origin, host: "old" } }))
      .workflows;
    expect(first?.created).toBe(true);
    // Registering the same content again is the same version, with the newest registration's origin.
    const [again] = (await workflows.register({ ...input, origin })).workflows;
    expect(again).toEqual({ name: "trainer", version: first?.version, created: false });
    const got = await workflows.get("default", "trainer", first?.version);
    expect(got.origin).toEqual(origin);
    expect(got.forkedFrom).toBeUndefined();
    registered = { version: got.version, bundle: packed.sha256 };
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** An execution of the registered version whose train failed, its session having saved `changes`. */
  async function failedWithEdits(changes: string | null): Promise<string> {
    agents({ fail: (t) => t === "train" });
    const id = await start(spec, registered.version, {});
    await ended(id, "FAILED");
    await db
      .insertInto("interactive_sessions")
      .values({
        id: `s${String(++seq).padStart(15, "0")}`,
        attempt_id: `${id}.n1.a1`,
        state: "ENDED",
        end_reason: "failed",
        changes,
        ...(changes !== null ? { changes_at: new Date() } : {}),
      })
      .execute();
    return id;
  }

  const counts = async () => ({
    versions: Number(
      (
        await db
          .selectFrom("workflow_versions")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    ),
    executions: Number(
      (
        await db
          .selectFrom("executions")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    ),
  });

  it("registers the sources plus the session's edits as a new version with its lineage, and runs it: upstream reused, the edited node and downstream run", async () => {
    const parent = await failedWithEdits(EDIT);
    const session = await sessions.changes(parent, "n1");
    agents();
    const forked = await executions.fork(parent, "n1", LOCAL_ADMIN_ID);
    expect(forked.parent).toEqual({ executionId: parent, kind: "fork", nodeId: "n1", force: [] });
    expect(forked.version).not.toBe(registered.version);

    const version = await workflows.get("default", "trainer", forked.version);
    expect(version.forkedFrom).toEqual({
      version: registered.version,
      executionId: parent,
      nodeId: "n1",
      sessionId: session.sessionId,
      patch: EDIT,
      changedTasks: ["train"],
    });
    expect(version.origin).toBeUndefined();
    expect(version.bundle).not.toBe(registered.bundle);
    const before = await workflows.get("default", "trainer", registered.version);
    const code = (v: typeof version, name: string) => v.tasks.find((t) => t.name === name)?.code;
    expect(code(version, "load")).toEqual(code(before, "load"));
    expect(code(version, "train")?.sha256).not.toBe(code(before, "train")?.sha256);
    // The patched bundle is stored and known: its workflow.ts has the edit.
    const tarball = await blobs.readBuffer(bundleKey(version.bundle));
    expect(createHash("sha256").update(tarball).digest("hex")).toBe(version.bundle);
    const text = gunzipSync(tarball).toString("utf8");
    expect(text).toContain("const doubled = n * 3;");
    expect(text).not.toContain("const doubled = n * 2;");
    expect(
      await db
        .selectFrom("bundles")
        .select("size")
        .where("sha256", "=", version.bundle)
        .executeTakeFirst(),
    ).toEqual({ size: tarball.length });

    const detail = await ended(forked.id);
    expect(detail.lineage).toEqual(version.forkedFrom);
    expect((await executions.detail(parent)).lineage).toBeUndefined();
    expect(detail.execution.result).toBe("trained 7");
    expect(await attemptNodes(forked.id)).toEqual(["n1", "n2"]);
    expect(byId(detail.nodes).get("n0")?.reused).toMatchObject({
      from: "parent",
      executionId: parent,
      nodeId: "n0",
    });
    // Its agent is launched with the fork's bundle, which the local executor puts in an isolated agent's cache.
    expect(executor.launches.find((l) => l.attemptId === `${forked.id}.n1.a1`)?.bundle).toBe(
      version.bundle,
    );
  });

  it("refuses unknown executions and nodes, running executions, nodes whose sessions saved no edits and edits that do not apply, creating nothing", async () => {
    const noEdits = await failedWithEdits("");
    const badEdit = await failedWithEdits(EDIT.replace("n * 2", "n * 5"));
    const before = await counts();
    await expect(executions.fork("xnosuch", "n1")).rejects.toMatchObject(
      refusal("EXECUTION_NOT_FOUND", "NOT_FOUND", 'execution "xnosuch" does not exist'),
    );
    await expect(executions.fork(noEdits, "n7")).rejects.toMatchObject(
      refusal("NODE_NOT_FOUND", "NOT_FOUND", `node "n7" of execution "${noEdits}" does not exist`),
    );
    for (const nodeId of ["n1", "n0"])
      await expect(executions.fork(noEdits, nodeId)).rejects.toMatchObject(
        refusal(
          "NO_EDITS_TO_FORK",
          "CONFLICT",
          `node "${nodeId}" of execution "${noEdits}" has no IDE edits to fork: its session saved none`,
        ),
      );
    await expect(executions.fork(badEdit, "n1")).rejects.toMatchObject(
      refusal(
        "FORK_FAILED",
        "CONFLICT",
        `the edits of node "n1" of execution "${badEdit}" cannot be forked: `,
      ),
    );
    agents({ hang: "load" });
    const running = await start(spec, registered.version, {});
    const during = await counts();
    await expect(executions.fork(running, "n1")).rejects.toMatchObject(
      refusal(
        "EXECUTION_NOT_FORKABLE",
        "CONFLICT",
        `execution "${running}" cannot be forked: it is RUNNING; fork it once it has ended, or abort it first`,
      ),
    );
    expect(await counts()).toEqual(during);
    expect(during).toEqual({ ...before, executions: before.executions + 1 });
    await executions.abort(running);
  });
});
