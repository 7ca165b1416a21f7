import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";

import type { AttemptAssignment, JsonValue, TaskSpec } from "@drydock/contracts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { testDatabase } from "../__tests__/postgres.js";
import {
  computePipeline as compute,
  pipelineSpec,
  testTask as task,
} from "../__tests__/pipeline.js";
import { ScriptedExecutor } from "../__tests__/scripted-executor.js";
import { testServices } from "../__tests__/services.js";
import type { LocalBlobStore } from "../blobs/blob-store.js";
import type { Db } from "../db/database.js";
import type { AttemptAgentService } from "./attempt-agent.js";
import type { ExecutionService } from "./executions.js";
import type { Scheduler } from "./scheduler.js";
import type { SessionService } from "./sessions.js";

const BUNDLE = "b".repeat(64);
const PATCH = "--- a/tasks.ts\n+++ b/tasks.ts\n@@ -1 +1 @@\n-const sum = 0;\n+const sum = 1;\n";

let pg: Awaited<ReturnType<typeof testDatabase>>;
let db: Db;
let services: Awaited<ReturnType<typeof testServices>>;
let blobs: LocalBlobStore;
let scheduler: Scheduler;
let executions: ExecutionService;
let agent: AttemptAgentService;
let sessions: SessionService;
const executor = new ScriptedExecutor();
let seq = 0;

beforeAll(async () => {
  pg = await testDatabase();
  db = pg.db;
  services = await testServices(pg, executor);
  ({ blobs, scheduler, executions, agent, sessions } = services);
  await db.insertInto("bundles").values({ sha256: BUNDLE, size: 1 }).execute();
  await scheduler.start();
});
afterAll(async () => {
  await scheduler.stop();
  await pg.close();
});

const pipeline = pipelineSpec({ kind: "node", node: "n2" });

/**
 * Agents as the real one behaves towards the server: fetch the assignment, read the inputs blob, and, when
 * the task is interactive, open a session, save the IDE's edits and end it (resumed) before completing
 * with the outputs blob. `fail` makes a task fail instead; `hang` keeps it running.
 */
const assignments: AttemptAssignment[] = [];
function agents(how: { fail?: string; hang?: string } = {}) {
  executor.behaviour = async ({ attemptId }) => {
    await scheduler.attemptStarted(attemptId, 4242);
    const assignment = await agent.assignment(attemptId);
    assignments.push(assignment);
    const { executionId, nodeId, attemptNumber, task: spec } = assignment;
    if (spec.name === how.hang) return new Promise(() => undefined);
    if (spec.name === how.fail)
      return agent.fail(attemptId, { message: `${spec.name} failed`, code: "TASK_FAILED" });
    // Small inputs come in the assignment, larger ones as a blob (inputsUrl).
    const inputs =
      assignment.inputs ??
      (JSON.parse(
        (await blobs.readBuffer(`executions/${executionId}/nodes/${nodeId}/inputs.json`)).toString(
          "utf8",
        ),
      ) as Record<string, JsonValue>);
    if (spec.interactive?.enable) {
      await sessions.openSession(attemptId, { maxIdleSeconds: spec.interactive.maxIdleSeconds });
      await sessions.updateSession(attemptId, { changes: PATCH });
      await sessions.endSession(attemptId, "resumed");
    }
    const bytes = Buffer.from(JSON.stringify(compute(spec.name, inputs)));
    await blobs.write(agent.outputsKey(executionId, nodeId, attemptNumber), bytes, 1_000_000);
    await agent.complete(attemptId, {
      outputsSha256: createHash("sha256").update(bytes).digest("hex"),
    });
  };
}

async function register(tasks: TaskSpec[]): Promise<string> {
  const version = `v${++seq}`;
  await db
    .insertInto("workflow_versions")
    .values({
      project: "default",
      name: pipeline.name,
      version,
      bundle: BUNDLE,
      entry: "wf.ts",
      spec: JSON.stringify(pipeline),
      tasks: JSON.stringify(tasks),
    })
    .execute();
  return version;
}

async function run(tasks: TaskSpec[], count: number): Promise<{ id: string; version: string }> {
  const version = await register(tasks);
  const id = `x${++seq}`;
  await scheduler.startExecution({
    id,
    project: "default",
    workflow: pipeline.name,
    version,
    inputs: { count },
  });
  return { id, version };
}

async function ended(id: string, status = "SUCCEEDED") {
  await vi.waitFor(async () => expect((await executions.execution(id)).status).toBe(status), {
    timeout: 5_000,
    interval: 20,
  });
  return executions.detail(id);
}

const assignmentOf = (executionId: string) =>
  assignments.find((a) => a.executionId === executionId);

/** An AppError with this code and transport kind, whose message says `says`. */
const refusal = (code: string, kind: string, says: string) => ({
  name: "AppError",
  code,
  kind,
  message: expect.stringContaining(says) as string,
});

describe("ExecutionService.debug (drydock debug)", () => {
  it("re-runs a finished node as a new interactive execution of the same version, with the node's inputs, whose result is the node's output", async () => {
    agents();
    const tasks = [
      task("range", ["n"]),
      task("square", ["x", "k"]),
      task("sum", ["xs"], { retries: 2, timeoutSeconds: 30 }),
    ];
    const original = await run(tasks, 3);
    await ended(original.id);

    const debug = await executions.debug(original.id, "n2");
    expect(debug).toMatchObject({
      project: "default",
      workflow: "pipe",
      version: original.version,
      status: "RUNNING",
      inputs: { xs: [1, 4, 9] },
      debugOf: { executionId: original.id, nodeId: "n2" },
    });
    expect(debug.id).not.toBe(original.id);

    const detail = await ended(debug.id);
    expect(detail.execution).toMatchObject({
      status: "SUCCEEDED",
      result: 14,
      debugOf: { executionId: original.id, nodeId: "n2" },
    });
    expect(
      detail.nodes.map((n) => ({
        nodeId: n.nodeId,
        task: n.task,
        status: n.status,
        inputs: n.inputs,
        outputs: n.outputs,
      })),
    ).toEqual([
      { nodeId: "n2", task: "sum", status: "SUCCEEDED", inputs: { xs: [1, 4, 9] }, outputs: 14 },
    ]);

    // Its attempt was interactive (the IDE always opens), on the same bundle, without the task's retries or timeout.
    const assignment = assignmentOf(debug.id);
    expect(assignment).toMatchObject({ nodeId: "n2", bundle: { sha256: BUNDLE, entry: "wf.ts" } });
    expect(assignment?.task.interactive).toEqual({
      enable: true,
      maxIdleSeconds: 36_000,
      runTaskFirst: false,
      preExecute: false,
      extensions: [],
    });
    expect(assignment?.task).toMatchObject({ name: "sum", retries: 0 });
    expect(assignment?.task.timeoutSeconds).toBeUndefined();
    expect(assignmentOf(original.id)?.task.interactive).toBeUndefined();
    // What the IDE's Drydock view shows: the workflow, the nodes feeding this one, the console's pane.
    const sumOf = assignments.find((a) => a.executionId === original.id && a.nodeId === "n2");
    expect(sumOf).toMatchObject({
      workflow: { name: "pipe", version: original.version },
      upstream: [{ nodeId: "n1", task: "square" }],
    });
    expect(sumOf?.consoleUrl).toBe(`http://127.0.0.1:1/executions/${original.id}?node=n2`);
    expect(
      assignments.find((a) => a.executionId === original.id && a.nodeId === "n1[0]")?.upstream,
    ).toEqual([{ nodeId: "n0", task: "range" }]);

    // The attempt's session as users see it, and its edits after it ended (drydock changes).
    expect(detail.nodes[0]?.attempts[0]?.session).toMatchObject({
      state: "ENDED",
      endReason: "resumed",
      maxIdleSeconds: 36_000,
      extensionProblems: [],
      hasChanges: true,
    });
    expect(await sessions.changes(debug.id, "n2")).toMatchObject({ patch: PATCH });

    const listed = await executions.list({ project: "default", limit: 50 });
    expect(listed.find((e) => e.id === debug.id)?.debugOf).toEqual({
      executionId: original.id,
      nodeId: "n2",
    });
    expect(listed.find((e) => e.id === original.id)).not.toHaveProperty("debugOf");
  });

  it("debugs a fan-out element under its own id, keeping the task's interactive options but always opening the IDE", async () => {
    agents();
    const interactive = {
      enable: false,
      maxIdleSeconds: 5,
      runTaskFirst: true,
      preExecute: true,
      extensions: ["https://x.test/a.vsix"],
    };
    const original = await run(
      [task("range", ["n"]), task("square", ["x", "k"], { interactive }), task("sum", ["xs"])],
      3,
    );
    await ended(original.id);

    const debug = await executions.debug(original.id, "n1[1]");
    expect(debug.inputs).toEqual({ x: 2, k: 1 });
    const detail = await ended(debug.id);
    expect(detail.execution.result).toBe(4);
    expect(detail.nodes.map((n) => [n.nodeId, n.parentNodeId, n.status])).toEqual([
      ["n1[1]", undefined, "SUCCEEDED"],
    ]);
    expect(assignmentOf(debug.id)?.task.interactive).toEqual({
      ...interactive,
      enable: true,
      runTaskFirst: false,
    });
    expect(detail.nodes[0]?.attempts[0]?.session).toMatchObject({ maxIdleSeconds: 5 });
  });

  it("debugs a failed node; refuses unknown ids (NOT_FOUND), unfinished nodes, fan-outs and nodes that never ran (CONFLICT)", async () => {
    agents({ fail: "sum" });
    const tasks = [task("range", ["n"]), task("square", ["x", "k"]), task("sum", ["xs"])];
    const failed = await run(tasks, 2);
    expect((await ended(failed.id, "FAILED")).nodes.find((n) => n.nodeId === "n2")?.status).toBe(
      "FAILED",
    );
    agents();
    const debugged = await executions.debug(failed.id, "n2");
    expect(debugged.inputs).toEqual({ xs: [1, 4] });
    expect((await ended(debugged.id)).execution.result).toBe(5);

    await expect(executions.debug("xnosuch", "n0")).rejects.toMatchObject(
      refusal("EXECUTION_NOT_FOUND", "NOT_FOUND", 'execution "xnosuch" does not exist'),
    );
    await expect(executions.debug(failed.id, "n9")).rejects.toMatchObject(
      refusal(
        "NODE_NOT_FOUND",
        "NOT_FOUND",
        `node "n9" of execution "${failed.id}" does not exist`,
      ),
    );
    await expect(executions.debug(failed.id, "n1")).rejects.toMatchObject(
      refusal(
        "NODE_NOT_DEBUGGABLE",
        "CONFLICT",
        `node "n1" of execution "${failed.id}" cannot be debugged: it is a fan-out, which runs no task itself; debug one of its elements, e.g. "n1[0]"`,
      ),
    );

    agents({ hang: "range" });
    const hanging = await run(tasks, 2);
    await vi.waitFor(
      async () => expect((await executions.detail(hanging.id)).nodes[0]?.status).toBe("RUNNING"),
      { timeout: 5_000, interval: 20 },
    );
    await expect(executions.debug(hanging.id, "n0")).rejects.toMatchObject(
      refusal(
        "NODE_NOT_DEBUGGABLE",
        "CONFLICT",
        `node "n0" of execution "${hanging.id}" cannot be debugged: it is RUNNING; debug it once it has finished`,
      ),
    );
    await expect(executions.debug(hanging.id, "n2")).rejects.toMatchObject(
      refusal("NODE_NOT_DEBUGGABLE", "CONFLICT", "it is PENDING; debug it once it has finished"),
    );
    await scheduler.abort(hanging.id);
    await expect(executions.debug(hanging.id, "n2")).rejects.toMatchObject(
      refusal(
        "NODE_NOT_DEBUGGABLE",
        "CONFLICT",
        "it ended ABORTED before it ran, so it has no inputs to re-run with",
      ),
    );
    // Aborted while running, it had its inputs: that one can be debugged.
    const rerun = await executions.debug(hanging.id, "n0");
    expect(rerun).toMatchObject({
      inputs: { n: 2 },
      debugOf: { executionId: hanging.id, nodeId: "n0" },
    });
    await scheduler.abort(rerun.id);
  });
});

/** Collects a subscription's values until `until` says enough (or it ends), then leaves it. */
async function collect<T>(
  stream: (signal: AbortSignal) => AsyncGenerator<T>,
  until: (seen: T[]) => boolean,
  during?: () => Promise<void>,
): Promise<T[]> {
  const leave = new AbortController();
  const seen: T[] = [];
  const reading = (async () => {
    for await (const value of stream(leave.signal)) {
      seen.push(value);
      if (until(seen)) break;
    }
  })();
  await during?.();
  await vi.waitFor(() => expect(until(seen)).toBe(true), { timeout: 5_000, interval: 20 });
  leave.abort();
  await reading;
  return seen;
}

describe("ExecutionService: what the console follows", () => {
  it("node returns one node as the detail shows it, and refuses unknown executions and nodes", async () => {
    agents();
    const { id } = await run(
      [task("range", ["n"]), task("square", ["x", "k"]), task("sum", ["xs"])],
      2,
    );
    const detail = await ended(id);
    for (const nodeId of ["n0", "n1", "n1[1]", "n2"])
      expect(await executions.node(id, nodeId)).toEqual(
        detail.nodes.find((n) => n.nodeId === nodeId),
      );
    await expect(executions.node(id, "n7")).rejects.toMatchObject(
      refusal("NODE_NOT_FOUND", "NOT_FOUND", `node "n7" of execution "${id}" does not exist`),
    );
    await expect(executions.node("xnosuch", "n0")).rejects.toMatchObject(
      refusal("EXECUTION_NOT_FOUND", "NOT_FOUND", "xnosuch"),
    );
  });

  it("watchList yields the project's executions as they start and as they end", async () => {
    agents();
    const tasks = [task("range", ["n"]), task("square", ["x", "k"]), task("sum", ["xs"])];
    let launched = "";
    const seen = await collect(
      (signal) => executions.watchList("default", signal),
      (s) => s.some((e) => e.execution.id === launched && e.execution.status === "SUCCEEDED"),
      async () => {
        launched = (await run(tasks, 2)).id;
      },
    );
    const mine = seen.filter((e) => e.execution.id === launched).map((e) => e.execution.status);
    expect(mine[0]).toBe("RUNNING");
    expect(mine.at(-1)).toBe("SUCCEEDED");
    expect(seen.at(-1)?.execution).toMatchObject({
      id: launched,
      resultPreview: "5",
      resultBytes: 1,
      inputsPreview: '{"count":2}',
      workflow: "pipe",
    });
    expect(seen.at(-1)?.execution).not.toHaveProperty("inputs");
    const none = executions.watchList("nosuch", new AbortController().signal);
    await expect(none.next()).rejects.toMatchObject({ code: "PROJECT_NOT_FOUND" });
  });

  it("list pages carry each execution's inputs and result as a size and a preview, never whole", async () => {
    agents();
    const version = await register([
      task("range", ["n"]),
      task("square", ["x", "k"]),
      task("sum", ["xs"]),
    ]);
    const id = `x${++seq}`;
    const note = "é".repeat(300);
    await scheduler.startExecution({
      id,
      project: "default",
      workflow: pipeline.name,
      version,
      inputs: { count: 2, note },
    });
    await ended(id);
    const [summary] = (await executions.list({ project: "default", limit: 50 })).filter(
      (e) => e.id === id,
    );
    const json = JSON.stringify({ count: 2, note });
    expect(summary).toMatchObject({
      status: "SUCCEEDED",
      inputsBytes: Buffer.byteLength(json),
      resultPreview: "5",
      resultBytes: 1,
    });
    expect(summary?.inputsPreview).toBe(`${json.slice(0, 199)}…`);
    expect(summary).not.toHaveProperty("inputs");
    expect(summary).not.toHaveProperty("result");
    expect((await executions.execution(id)).inputs).toEqual({ count: 2, note });
  });

  it("keeps values with U+0000 exactly: an execution's inputs, a failed attempt's error", async () => {
    executor.behaviour = async ({ attemptId }) => {
      await scheduler.attemptStarted(attemptId, 4242);
      await agent.fail(attemptId, { message: "boom\u0000after", code: "TASK_FAILED" });
    };
    const version = await register([
      task("range", ["n"]),
      task("square", ["x", "k"]),
      task("sum", ["xs"]),
    ]);
    const id = `x${++seq}`;
    await scheduler.startExecution({
      id,
      project: "default",
      workflow: pipeline.name,
      version,
      inputs: { count: 2, note: "a\u0000b" },
    });
    const detail = await ended(id, "FAILED");
    expect(detail.execution.inputs).toEqual({ count: 2, note: "a\u0000b" });
    expect(detail.nodes[0]?.error?.message).toBe("boom\u0000after");
    expect(detail.nodes[0]?.attempts.map((a) => [a.status, a.error?.message])).toEqual([
      ["FAILED", "boom\u0000after"],
    ]);
    expect(detail.execution.error?.message).toBe("node n0 (range) failed: boom\u0000after");
  });

  it("records log lines it cannot store on the attempt, and reading that log answers nothing rather than failing", async () => {
    agents({ hang: "range" });
    const { id } = await run(
      [task("range", ["n"]), task("square", ["x", "k"]), task("sum", ["xs"])],
      2,
    );
    const attemptId = await vi.waitFor(
      async () => {
        const a = (await executions.node(id, "n0")).attempts[0];
        expect(a?.status).toBe("RUNNING");
        return a?.id ?? "";
      },
      { timeout: 5_000, interval: 20 },
    );
    // A directory where the log file should be: appending fails (EISDIR), even for root.
    await mkdir(join(services.logsDir, `${attemptId}.log`));
    await agent.log(attemptId, [
      { stream: "stdout", text: "one" },
      { stream: "stdout", text: "two" },
    ]);
    await agent.log(attemptId, [{ stream: "stderr", text: "three" }]);
    const attempt = (await executions.node(id, "n0")).attempts[0];
    expect(attempt?.logLost).toEqual({
      lines: 3,
      reason: expect.stringMatching(
        new RegExp(`could not write .*${attemptId}\\.log: EISDIR`),
      ) as string,
    });
    expect(await executions.logs(attemptId, 0)).toEqual({ text: "", nextOffset: 0 });
    await scheduler.abort(id);
  });

  it("tailLogs sends the log from an offset, then each line as it is written, and ends once the attempt ended", async () => {
    agents({ hang: "range" });
    const { id } = await run(
      [task("range", ["n"]), task("square", ["x", "k"]), task("sum", ["xs"])],
      2,
    );
    const attemptId = await vi.waitFor(
      async () => {
        const a = (await executions.node(id, "n0")).attempts[0];
        expect(a?.status).toBe("RUNNING");
        return a?.id ?? "";
      },
      { timeout: 5_000, interval: 20 },
    );
    await agent.log(attemptId, [{ stream: "stdout", text: "first" }]);
    let sent: unknown[] = [];
    const chunks = await collect(
      (signal) => executions.tailLogs(attemptId, 2, signal),
      (s) => {
        sent = s;
        return s.at(-1)?.ended === true;
      },
      async () => {
        // Each step once the previous chunk was sent: the tail has read what was there, and waits for more.
        await vi.waitFor(() => expect(sent).toHaveLength(1));
        await agent.log(attemptId, [{ stream: "stderr", text: "second" }]);
        await vi.waitFor(() => expect(sent).toHaveLength(2));
        await scheduler.abort(id);
      },
    );
    expect(chunks.map((c) => c.text).join("")).toBe("rst\nsecond\n");
    expect(chunks[0]).toEqual({ text: "rst\n", nextOffset: 6, ended: false });
    expect(chunks.at(-1)).toMatchObject({ nextOffset: 13, ended: true });
    // Once ended, it sends what is left and ends at once.
    const after = await collect(
      (signal) => executions.tailLogs(attemptId, 0, signal),
      (s) => s.at(-1)?.ended === true,
    );
    expect(after).toEqual([{ text: "first\nsecond\n", nextOffset: 13, ended: true }]);
    await expect(
      executions.tailLogs("xnosuch.n0.a1", 0, new AbortController().signal).next(),
    ).rejects.toMatchObject({ code: "ATTEMPT_NOT_FOUND" });
  });
});
