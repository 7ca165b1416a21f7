import type {
  ErrorInfo,
  ExecutionEvent,
  JsonValue,
  TaskSpec,
  WorkflowSpec,
} from "@drydock/contracts";
import { SESSION_IDLE_CODE } from "@drydock/contracts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { testDatabase } from "../__tests__/postgres.js";
import {
  computePipeline as compute,
  mapSpec,
  pipelineSpec,
  registerWorkflow,
  testTask as task,
} from "../__tests__/pipeline.js";
import { attemptAndNode, ScriptedExecutor } from "../__tests__/scripted-executor.js";
import type { Db } from "../db/database.js";
import { createLogger } from "../logger.js";
import { EventBus } from "./event-bus.js";
import { Scheduler } from "./scheduler.js";

let pg: Awaited<ReturnType<typeof testDatabase>>;
let db: Db;
let scheduler: Scheduler;
const executor = new ScriptedExecutor();
const bus = new EventBus();
let seq = 0;

async function register(spec: WorkflowSpec, tasks: TaskSpec[]): Promise<string> {
  const version = `v${++seq}`;
  await registerWorkflow(db, spec, tasks, version);
  return version;
}

async function run(spec: WorkflowSpec, tasks: TaskSpec[], inputs: Record<string, JsonValue> = {}) {
  const version = await register(spec, tasks);
  const id = `x${++seq}`;
  const events: ExecutionEvent[] = [];
  const done = new Promise<ExecutionEvent>((resolve) => {
    bus.subscribe(id, (e) => {
      events.push(e);
      if (e.type === "execution") resolve(e);
    });
  });
  await scheduler.startExecution({ id, project: "default", workflow: spec.name, version, inputs });
  return { id, events, done };
}

/** What an agent does: start, then report the task's result (computed from the node's inputs). */
function agentsComputing(
  fn: (task: string, inputs: Record<string, JsonValue>, attempt: number) => JsonValue | ErrorInfo,
) {
  executor.behaviour = async ({ attemptId }) => {
    await scheduler.attemptStarted(attemptId, 4242);
    const { attempt: a, node } = await attemptAndNode(db, attemptId);
    const result = fn(node.task, node.inputs as Record<string, JsonValue>, a.number);
    if (result && typeof result === "object" && "message" in result)
      await scheduler.attemptFailed(attemptId, "FAILED", result as ErrorInfo);
    else await scheduler.attemptSucceeded(attemptId, "f".repeat(64), result);
  };
}

beforeAll(async () => {
  pg = await testDatabase();
  db = pg.db;
  scheduler = new Scheduler({
    db,
    executor,
    bus,
    log: createLogger("silent"),
    config: {
      maxParallel: 4,
      heartbeatTimeoutSeconds: 30,
      startTimeoutSeconds: 300,
      lostAttemptRetries: 1,
    },
  });
  await scheduler.start();
});
afterAll(async () => {
  await scheduler.stop();
  await pg.close();
});

const pipeline = pipelineSpec({
  kind: "object",
  fields: { total: { kind: "node", node: "n2" }, first: { kind: "node", node: "n1", path: [0] } },
});
const pipelineTasks = [task("range", ["n"]), task("square", ["x", "k"]), task("sum", ["xs"])];

describe("Scheduler (real PostgreSQL, scripted agents)", () => {
  it("walks the DAG: passes outputs downstream, fans out, gathers in order, resolves the result", async () => {
    agentsComputing(compute);
    const { id, done, events } = await run(pipeline, pipelineTasks, { count: 6 });
    const end = await done;
    expect(end).toMatchObject({ status: "SUCCEEDED", result: { total: 91, first: 1 } });
    const nodes = await db
      .selectFrom("node_executions")
      .select(["node_id", "status", "outputs"])
      .where("execution_id", "=", id)
      .orderBy("node_id")
      .execute();
    expect(nodes.find((n) => n.node_id === "n1")?.outputs).toEqual([1, 4, 9, 16, 25, 36]);
    expect(
      nodes.filter((n) => n.node_id.startsWith("n1[")).every((n) => n.status === "SUCCEEDED"),
    ).toBe(true);
    expect(
      events
        .filter((e) => e.type === "node" && e.nodeId === "n0")
        .map((e) => (e as { status: string }).status),
    ).toEqual(["QUEUED", "RUNNING", "SUCCEEDED"]);
  });

  it("an empty fan-out succeeds with an empty list; an output reading past its end fails clearly", async () => {
    agentsComputing(compute);
    const { id, done } = await run(pipeline, pipelineTasks, { count: 0 });
    const end = (await done) as { status: string; error: ErrorInfo };
    const nodes = await db
      .selectFrom("node_executions")
      .select(["node_id", "status", "outputs"])
      .where("execution_id", "=", id)
      .orderBy("node_id")
      .execute();
    expect(nodes).toEqual([
      { node_id: "n0", status: "SUCCEEDED", outputs: [] },
      { node_id: "n1", status: "SUCCEEDED", outputs: [] },
      { node_id: "n2", status: "SUCCEEDED", outputs: 0 },
    ]);
    expect(end.status).toBe("FAILED");
    expect(end.error).toMatchObject({
      code: "BINDING_FAILED",
      message: "the output of n1 has no element 0",
    });
  });

  it("retries a failing task `retries` times, then fails the execution naming the node", async () => {
    agentsComputing((t, i, attempt) =>
      t === "range" && attempt < 3
        ? { message: `boom ${attempt}`, stack: "Error: boom\n    at x.ts:1" }
        : compute(t, i),
    );
    const flaky = pipelineTasks.map((t) => (t.name === "range" ? { ...t, retries: 1 } : t));
    const { id, done } = await run(pipeline, flaky, { count: 2 });
    const end = await done;
    expect(end).toMatchObject({ status: "FAILED" });
    expect((end as { error: ErrorInfo }).error.message).toBe("node n0 (range) failed: boom 2");
    const attempts = await db
      .selectFrom("attempts")
      .select(["number", "status"])
      .where("execution_id", "=", id)
      .orderBy("number")
      .execute();
    expect(attempts).toEqual([
      { number: 1, status: "FAILED" },
      { number: 2, status: "FAILED" },
    ]);
    const rest = await db
      .selectFrom("node_executions")
      .select(["node_id", "status"])
      .where("execution_id", "=", id)
      .where("node_id", "!=", "n0")
      .execute();
    expect(rest.every((n) => n.status === "SKIPPED")).toBe(true);
  });

  it("succeeds on a retry", async () => {
    agentsComputing((t, i, attempt) =>
      t === "sum" && attempt === 1 ? { message: "flaky" } : compute(t, i),
    );
    const flaky = pipelineTasks.map((t) => (t.name === "sum" ? { ...t, retries: 2 } : t));
    const { done } = await run(pipeline, flaky, { count: 3 });
    expect(await done).toMatchObject({ status: "SUCCEEDED", result: { total: 14 } });
  });

  it("a failed fan-out element fails its map node and the execution", async () => {
    agentsComputing((t, i) =>
      t === "square" && i.x === 2 ? { message: "two is bad" } : compute(t, i),
    );
    const { done } = await run(pipeline, pipelineTasks, { count: 3 });
    const end = (await done) as { status: string; error: ErrorInfo };
    expect(end.status).toBe("FAILED");
    expect(end.error.message).toContain("element 1 (n1[1]) failed: two is bad");
  });

  it("an agent that exits without reporting fails its attempt with the reason and its last output", async () => {
    executor.behaviour = async ({ attemptId }) => {
      await scheduler.attemptStarted(attemptId, 4242);
      executor.exit(attemptId, { code: 137, signal: null, tail: "out of memory\n" });
    };
    const { done } = await run(pipeline, pipelineTasks, { count: 1 });
    const end = (await done) as { error: ErrorInfo };
    expect(end.error.message).toContain(
      "the agent exited with code 137 before reporting a result; its last output:\nout of memory",
    );
    expect(end.error.code).toBe("AGENT_EXITED");
  });

  it("declares a silent running agent lost after the heartbeat timeout, and one not started yet only after the start timeout", async () => {
    // Element 0's agent starts and then goes silent; element 1's never starts (its image still pulling).
    executor.behaviour = async ({ attemptId }) => {
      if (attemptId.includes("[0]")) await scheduler.attemptStarted(attemptId, 4242);
      await new Promise(() => undefined);
    };
    const spec = mapSpec("silent", "hang", [1, 2]);
    const { id } = await run(spec, [task("hang", ["x"])]);
    const [running, starting] = [`${id}.n0[0].a1`, `${id}.n0[1].a1`];
    const attempt = (attemptId: string) =>
      db
        .selectFrom("attempts")
        .select(["status", "error"])
        .where("id", "=", attemptId)
        .executeTakeFirstOrThrow();
    await vi.waitFor(async () => expect((await attempt(running)).status).toBe("RUNNING"));
    await vi.waitFor(() => expect(executor.launched).toContain(starting));
    const silentFor = (ids: string[], seconds: number) =>
      db
        .updateTable("attempts")
        .set({ heartbeat_at: new Date(Date.now() - seconds * 1000) })
        .where("id", "in", ids)
        .execute();
    // 31 s without a word: past the heartbeat timeout (30 s), well within the start timeout (300 s).
    await silentFor([running, starting], 31);
    await vi.waitFor(async () => expect((await attempt(running)).status).toBe("LOST"), {
      timeout: 5_000,
    });
    expect((await attempt(running)).error).toMatchObject({
      code: "AGENT_LOST",
      message: "no heartbeat from the agent for 30s",
    });
    // Two more sweeps: the attempt still starting is left alone.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await attempt(starting)).status).toBe("QUEUED");
    await silentFor([starting], 301);
    await vi.waitFor(async () => expect((await attempt(starting)).status).toBe("LOST"), {
      timeout: 5_000,
    });
    expect((await attempt(starting)).error).toMatchObject({
      code: "AGENT_LOST",
      message: "the agent did not start within 300s of its launch",
    });
    expect(executor.terminated).toEqual(expect.arrayContaining([running, starting]));
    await scheduler.abort(id);
  });

  it("times out a running attempt and terminates it", async () => {
    executor.behaviour = ({ attemptId }) =>
      scheduler.attemptStarted(attemptId, 4242).then(() => new Promise(() => undefined));
    const spec: WorkflowSpec = {
      name: "t",
      inputs: {},
      required: [],
      nodes: [{ kind: "task", id: "n0", task: "hang", inputs: {} }],
      output: { kind: "node", node: "n0" },
    };
    const { id, done } = await run(spec, [task("hang", [], { timeoutSeconds: 1 })]);
    const end = (await done) as { error: ErrorInfo };
    expect(end.error.message).toBe("node n0 (hang) failed: the task timed out after 1s");
    await vi.waitFor(() => expect(executor.terminated).toContain(`${id}.n0.a1`));
    const attempt = await db
      .selectFrom("attempts")
      .select("status")
      .where("execution_id", "=", id)
      .executeTakeFirstOrThrow();
    expect(attempt.status).toBe("TIMED_OUT");
  });

  it("aborts: the execution, its open nodes and attempts end ABORTED and the agents are terminated", async () => {
    executor.behaviour = ({ attemptId }) =>
      scheduler.attemptStarted(attemptId, 4242).then(() => new Promise(() => undefined));
    const { id, done } = await run(pipeline, pipelineTasks, { count: 2 });
    // Abort once the first agent runs, so there is an agent to terminate.
    const first = () =>
      db.selectFrom("attempts").select("status").where("id", "=", `${id}.n0.a1`).executeTakeFirst();
    await vi.waitFor(async () => expect((await first())?.status).toBe("RUNNING"));
    await scheduler.abort(id);
    expect(await done).toMatchObject({ status: "ABORTED" });
    expect(executor.terminated).toContain(`${id}.n0.a1`);
    const nodes = await db
      .selectFrom("node_executions")
      .select("status")
      .where("execution_id", "=", id)
      .execute();
    expect(nodes.map((n) => n.status)).toEqual(["ABORTED", "ABORTED", "ABORTED"]);
    await expect(scheduler.abort(id)).rejects.toThrow(/already ended ABORTED/);
    // A late report from the aborted agent changes nothing.
    await expect(scheduler.attemptSucceeded(`${id}.n0.a1`, "f".repeat(64), [1])).rejects.toThrow(
      /already ended ABORTED/,
    );
  });

  it("ends an attempt's live interactive session with the attempt: resumed, failed or aborted; an agent's own reason stands", async () => {
    const spec: WorkflowSpec = {
      name: "ide",
      inputs: {},
      required: [],
      nodes: [{ kind: "task", id: "n0", task: "t", inputs: {} }],
      output: { kind: "node", node: "n0" },
    };
    const session = async (attemptId: string, state = "READY", reason: string | null = null) => {
      const id = `s${++seq}`;
      await db
        .insertInto("interactive_sessions")
        .values({ id, attempt_id: attemptId, state, end_reason: reason })
        .execute();
      return id;
    };
    const reasonOf = async (id: string) =>
      db
        .selectFrom("interactive_sessions")
        .select(["state", "end_reason"])
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
    let opened = "";
    const ending = async (
      report: (attemptId: string) => Promise<void>,
      state?: string,
      reason?: string,
    ) => {
      executor.behaviour = async ({ attemptId }) => {
        await scheduler.attemptStarted(attemptId, 4242);
        opened = await session(attemptId, state, reason ?? null);
        await report(attemptId);
      };
      const { done } = await run(spec, [task("t", [])]);
      await done;
      return reasonOf(opened);
    };
    expect(
      await ending(async (a) => void (await scheduler.attemptSucceeded(a, "f".repeat(64), 1))),
    ).toEqual({
      state: "ENDED",
      end_reason: "resumed",
    });
    expect(await ending((a) => scheduler.attemptFailed(a, "FAILED", { message: "boom" }))).toEqual({
      state: "ENDED",
      end_reason: "failed",
    });
    expect(
      await ending(
        (a) => scheduler.attemptFailed(a, "FAILED", { message: "idle" }),
        "ENDED",
        "idle",
      ),
    ).toEqual({ state: "ENDED", end_reason: "idle" });

    opened = "";
    executor.behaviour = async ({ attemptId }) => {
      await scheduler.attemptStarted(attemptId, 4242);
      opened = await session(attemptId);
      await new Promise(() => undefined);
    };
    const { id, done } = await run(spec, [task("t", [])]);
    await vi.waitFor(() => expect(opened).not.toBe(""));
    await scheduler.abort(id);
    await done;
    expect(await reasonOf(opened)).toEqual({ state: "ENDED", end_reason: "aborted" });
  });

  it("never retries an attempt whose session ended idle (SESSION_IDLE), whatever its retries, while another failure is retried", async () => {
    const spec: WorkflowSpec = {
      name: "idle",
      inputs: {},
      required: [],
      nodes: [{ kind: "task", id: "n0", task: "t", inputs: {} }],
      output: { kind: "node", node: "n0" },
    };
    const failingWith = (error: ErrorInfo) => {
      executor.behaviour = async ({ attemptId }) => {
        await scheduler.attemptStarted(attemptId, 4242);
        // A live session the agent did not end itself: the error's code says why it ends.
        await db
          .insertInto("interactive_sessions")
          .values({ id: `s${++seq}`, attempt_id: attemptId, state: "READY" })
          .execute();
        await scheduler.attemptFailed(attemptId, "FAILED", error);
      };
    };
    const outcome = async (id: string) => ({
      attempts: await db
        .selectFrom("attempts")
        .select(["number", "status"])
        .where("execution_id", "=", id)
        .orderBy("number")
        .execute(),
      sessions: (
        await db
          .selectFrom("interactive_sessions")
          .innerJoin("attempts", "attempts.id", "interactive_sessions.attempt_id")
          .select("interactive_sessions.end_reason")
          .where("attempts.execution_id", "=", id)
          .orderBy("attempts.number")
          .execute()
      ).map((s) => s.end_reason),
    });

    failingWith({ code: SESSION_IDLE_CODE, message: "the session was idle for 5s" });
    const idle = await run(spec, [task("t", [], { retries: 2 })]);
    expect(await idle.done).toMatchObject({
      status: "FAILED",
      error: {
        code: SESSION_IDLE_CODE,
        message: "node n0 (t) failed: the session was idle for 5s",
      },
    });
    expect(await outcome(idle.id)).toEqual({
      attempts: [{ number: 1, status: "FAILED" }],
      sessions: ["idle"],
    });

    failingWith({ code: "TASK_FAILED", message: "boom" });
    const failing = await run(spec, [task("t", [], { retries: 2 })]);
    expect(await failing.done).toMatchObject({ status: "FAILED", error: { code: "TASK_FAILED" } });
    expect(await outcome(failing.id)).toEqual({
      attempts: [1, 2, 3].map((number) => ({ number, status: "FAILED" })),
      sessions: ["failed", "failed", "failed"],
    });
  });

  it("a duplicate completion report is accepted once and changes nothing", async () => {
    let first = "";
    agentsComputing((t, i) => compute(t, i));
    const inner = executor.behaviour;
    executor.behaviour = async (a) => {
      await inner(a);
      if (!first) {
        first = a.attemptId;
        await scheduler.attemptSucceeded(a.attemptId, "f".repeat(64), [1, 2]);
      }
    };
    const { id, done } = await run(pipeline, pipelineTasks, { count: 2 });
    expect(await done).toMatchObject({ status: "SUCCEEDED", result: { total: 5 } });
    const n0 = await db
      .selectFrom("attempts")
      .select("id")
      .where("execution_id", "=", id)
      .where("node_id", "=", "n0")
      .execute();
    expect(n0).toHaveLength(1);
  });

  it("tells the executor each attempt's task (image, resources), and hands nothing over when its agents are not warm", async () => {
    executor.behaviour = ({ attemptId }) =>
      scheduler.attemptStarted(attemptId, 4242).then(() => new Promise(() => undefined));
    executor.warmAgents = false;
    try {
      const spec: WorkflowSpec = {
        name: "cold",
        inputs: {},
        required: [],
        nodes: [
          {
            kind: "map",
            id: "n0",
            task: "boxed",
            over: { x: { kind: "literal", value: [1, 2, 3, 4, 5] } },
            inputs: {},
          },
        ],
        output: { kind: "node", node: "n0" },
      };
      const boxed: TaskSpec = {
        ...task("boxed", ["x"]),
        image: {
          name: "boxed",
          packages: ["is-number@7.0.0"],
          env: {},
          ref: "drydock-task/boxed:0123456789abcdef",
        },
        resources: { cpu: 0.5, memoryMiB: 256 },
      };
      const { id } = await run(spec, [boxed]);
      await vi.waitFor(() =>
        expect(executor.launched.filter((a) => a.startsWith(id))).toHaveLength(4),
      );
      const launch = executor.launches.find((l) => l.attemptId.startsWith(id));
      expect(launch?.task).toMatchObject({
        name: "boxed",
        image: { ref: "drydock-task/boxed:0123456789abcdef" },
        resources: { cpu: 0.5, memoryMiB: 256 },
      });
      const first = executor.launched.find((a) => a.startsWith(id)) as string;
      await scheduler.attemptSucceeded(first, "f".repeat(64), 1);
      expect(await scheduler.handOver(first)).toBeNull();
      // Its agent exits, and the queued element gets an agent of its own.
      executor.exit(first, { code: 0, signal: null, tail: "" });
      await vi.waitFor(() =>
        expect(executor.launched.filter((a) => a.startsWith(id))).toHaveLength(5),
      );
    } finally {
      executor.warmAgents = true;
      for (const e of await db
        .selectFrom("executions")
        .select("id")
        .where("workflow", "=", "cold")
        .where("status", "=", "RUNNING")
        .execute()) {
        await scheduler.abort(e.id);
      }
    }
  });

  it("hands a warm agent the same next attempt when it asks again after a lost answer", async () => {
    executor.behaviour = ({ attemptId }) =>
      scheduler.attemptStarted(attemptId, 4242).then(() => new Promise(() => undefined));
    const spec = mapSpec("warm", "hang", [1, 2, 3, 4, 5, 6]);
    const { id } = await run(spec, [task("hang", ["x"])]);
    await vi.waitFor(() =>
      expect(executor.launched.filter((a) => a.startsWith(id))).toHaveLength(4),
    );
    const [first, second] = executor.launched.filter((a) => a.startsWith(id)) as [string, string];
    await scheduler.attemptSucceeded(first, "f".repeat(64), 1);
    await scheduler.attemptSucceeded(second, "f".repeat(64), 2);

    const handed = await scheduler.handOver(first);
    const again = await scheduler.handOver(first);
    expect(handed?.attemptId).toBe(`${id}.n0[4].a1`);
    expect(again?.attemptId).toBe(handed?.attemptId);
    expect(again?.token).not.toBe(handed?.token);
    // Another agent gets the other queued element, not the one already handed over.
    expect((await scheduler.handOver(second))?.attemptId).toBe(`${id}.n0[5].a1`);
    const rows = await db
      .selectFrom("attempts")
      .select(["id", "status", "agent"])
      .where("id", "in", [`${id}.n0[4].a1`, `${id}.n0[5].a1`])
      .orderBy("id")
      .execute();
    expect(rows).toEqual([
      { id: `${id}.n0[4].a1`, status: "RUNNING", agent: first },
      { id: `${id}.n0[5].a1`, status: "RUNNING", agent: second },
    ]);
    await scheduler.abort(id);
  });

  it("hands warm agents their next attempts with their successes, started, in the same transaction; a retried report gets the same attempt with a fresh token", async () => {
    executor.behaviour = ({ attemptId }) =>
      scheduler.attemptStarted(attemptId, 4242).then(() => new Promise(() => undefined));
    const spec = mapSpec("warm-report", "hang", [1, 2, 3, 4, 5, 6, 7]);
    const { id } = await run(spec, [task("hang", ["x"])]);
    await vi.waitFor(() =>
      expect(executor.launched.filter((a) => a.startsWith(id))).toHaveLength(4),
    );
    const agents = executor.launched.filter((a) => a.startsWith(id)).slice(0, 3);
    // Reported at once: the first is recorded alone, the two that arrive meanwhile share the next transaction.
    const handed = await Promise.all(
      agents.map((a, i) => scheduler.attemptSucceeded(a, "f".repeat(64), i, { handOver: true })),
    );
    expect(handed.map((h) => h?.attemptId)).toEqual([
      `${id}.n0[4].a1`,
      `${id}.n0[5].a1`,
      `${id}.n0[6].a1`,
    ]);
    // What the assignment is made of came with the hand-over: no query for it.
    expect(handed[0]?.assignment).toMatchObject({
      status: "RUNNING",
      node_id: "n0[4]",
      task: "hang",
      inputs: { x: 5 },
    });
    const rows = await db
      .selectFrom("attempts as a")
      .innerJoin("node_executions as n", (j) =>
        j.onRef("n.execution_id", "=", "a.execution_id").onRef("n.node_id", "=", "a.node_id"),
      )
      .select(["a.id", "a.status", "a.agent", "a.handed_to", "n.status as node"])
      .where("a.execution_id", "=", id)
      .orderBy("a.id")
      .execute();
    const row = (nodeId: string) => rows.find((r) => r.id === `${id}.${nodeId}.a1`);
    for (const [i, from] of agents.entries()) {
      const to = `${id}.n0[${i + 4}].a1`;
      expect(rows.find((r) => r.id === from)).toMatchObject({
        status: "SUCCEEDED",
        handed_to: to,
        node: "SUCCEEDED",
      });
      expect(row(`n0[${i + 4}]`)).toMatchObject({
        status: "RUNNING",
        agent: from,
        node: "RUNNING",
      });
    }
    // The fan-out counted the three successes (none lost to the batch).
    const parent = await db
      .selectFrom("node_executions")
      .select("children_done")
      .where("execution_id", "=", id)
      .where("node_id", "=", "n0")
      .executeTakeFirstOrThrow();
    expect(parent.children_done).toBe(3);

    // The report again (its answer lost): the same attempt, a fresh token; the success is not counted twice.
    const again = await scheduler.attemptSucceeded(agents[0] as string, "f".repeat(64), 0, {
      handOver: true,
    });
    expect(again?.attemptId).toBe(handed[0]?.attemptId);
    expect(again?.token).not.toBe(handed[0]?.token);
    await expect(
      scheduler.attemptSucceeded(agents[0] as string, "e".repeat(64), 0, { handOver: true }),
    ).rejects.toThrow(/already ended SUCCEEDED/);
    expect(
      (
        await db
          .selectFrom("node_executions")
          .select("children_done")
          .where("execution_id", "=", id)
          .where("node_id", "=", "n0")
          .executeTakeFirstOrThrow()
      ).children_done,
    ).toBe(3);
    await scheduler.abort(id);
  });
  it("a warm agent whose report starts a fan-out is handed its first element; the node after the gather gets an agent of its own", async () => {
    executor.behaviour = ({ attemptId }) =>
      scheduler.attemptStarted(attemptId, 4242).then(() => new Promise(() => undefined));
    const { id, done } = await run(pipeline, pipelineTasks, { count: 2 });
    const mine = () => executor.launched.filter((a) => a.startsWith(id));
    await vi.waitFor(() => expect(mine()).toEqual([`${id}.n0.a1`]));
    await vi.waitFor(async () =>
      expect((await attemptAndNode(db, `${id}.n0.a1`)).attempt.status).toBe("RUNNING"),
    );

    // The range's agent reports: its success queues the elements, and it takes the first of them.
    const first = await scheduler.attemptSucceeded(`${id}.n0.a1`, "f".repeat(64), [1, 2], {
      handOver: true,
    });
    expect(first?.attemptId).toBe(`${id}.n1[0].a1`);
    expect(first?.assignment).toMatchObject({
      status: "RUNNING",
      node_id: "n1[0]",
      task: "square",
      inputs: { x: 1, k: 1 },
    });
    // Only the other element needed a process of its own.
    await vi.waitFor(() => expect(mine()).toEqual([`${id}.n0.a1`, `${id}.n1[1].a1`]));
    expect(await attemptAndNode(db, `${id}.n1[0].a1`)).toMatchObject({
      attempt: { status: "RUNNING", agent: `${id}.n0.a1` },
      node: { status: "RUNNING" },
    });
    expect(
      (
        await db
          .selectFrom("attempts")
          .select("handed_to")
          .where("id", "=", `${id}.n0.a1`)
          .executeTakeFirstOrThrow()
      ).handed_to,
    ).toBe(`${id}.n1[0].a1`);

    // The last element's report gathers the fan-out: the sum is launched, as a node outside a fan-out is.
    await vi.waitFor(async () =>
      expect((await attemptAndNode(db, `${id}.n1[1].a1`)).attempt.status).toBe("RUNNING"),
    );
    expect(
      await scheduler.attemptSucceeded(`${id}.n1[1].a1`, "f".repeat(64), 4, { handOver: true }),
    ).toBeNull();
    expect(
      await scheduler.attemptSucceeded(`${id}.n1[0].a1`, "f".repeat(64), 1, { handOver: true }),
    ).toBeNull();
    await vi.waitFor(() =>
      expect(mine()).toEqual([`${id}.n0.a1`, `${id}.n1[1].a1`, `${id}.n2.a1`]),
    );
    await vi.waitFor(async () =>
      expect((await attemptAndNode(db, `${id}.n2.a1`)).attempt.status).toBe("RUNNING"),
    );
    await scheduler.attemptSucceeded(`${id}.n2.a1`, "f".repeat(64), 5);
    expect(await done).toMatchObject({ status: "SUCCEEDED", result: { total: 5, first: 1 } });
  });
});
