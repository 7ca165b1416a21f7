/**
 * Post-mortem debugging and pause points as agents, users and relays drive them over the API: the two
 * session limits, the resume choices recorded on attempts and what each does to the node, pause points.
 */
import { createHash, randomBytes } from "node:crypto";

import type {
  AttemptAssignment,
  ErrorInfo,
  Execution,
  ExecutionDetail,
  InteractiveSession,
  JsonValue,
  NodeExecution,
  PauseInfo,
  SessionLimit,
  TaskSpec,
} from "@drydock/contracts";
import {
  describePause,
  InteractiveConfigSchema,
  RESUME_FAIL_CODE,
  RESUME_ORIGINAL_CODE,
  SESSION_UNOPENED_CODE,
} from "@drydock/contracts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { bearerHeader, testControlPlane } from "../__tests__/control-plane.js";
import type { TestControlPlane } from "../__tests__/control-plane.js";
import { computePipeline, pipelineSpec, testTask as task } from "../__tests__/pipeline.js";
import { seedTeam } from "../__tests__/team-fixtures.js";
import type { Team } from "../__tests__/team-fixtures.js";

const BUNDLE = "d".repeat(64);
const EDITOR_EMAIL = "ueditor@example.com";
const pipeline = pipelineSpec({ kind: "node", node: "n2" });

/** Where a task threw, as the agent reports it when its process paused there. */
const THROW: PauseInfo = {
  reason: "exception",
  file: "src/steps.ts",
  line: 12,
  message: "boom",
  name: "RangeError",
  stack: "RangeError: boom\n    at helper (src/steps.ts:12:11)\n    at range (src/steps.ts:30:3)",
  at: "2026-12-06T10:00:00.000Z",
};
/** The task's own error, as the agent reports it when a choice ends the paused attempt. */
const ORIGINAL: ErrorInfo = { message: "boom", name: "RangeError", stack: THROW.stack ?? "" };
const BEFORE: PauseInfo = {
  reason: "before",
  file: "src/steps.ts",
  line: 3,
  message: "a pause point",
  at: "2026-12-06T10:00:00.000Z",
};

let t: TestControlPlane;
let team: Team;
let seq = 0;

beforeAll(async () => {
  t = await testControlPlane();
  team = await seedTeam(t);
  await t.db.insertInto("bundles").values({ sha256: BUNDLE, size: 1 }).execute();
  await t.plane.services.scheduler.start();
});
afterAll(async () => {
  await t?.close();
});

/** A refused call: the reply's message and codes. */
class Refused extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly appCode: string | undefined,
  ) {
    super(message);
  }
}

/** A tRPC call over the app's HTTP (inject): its data, or a `Refused` with the reply's error. */
async function api<T = unknown>(
  path: string,
  input: unknown,
  headers: Record<string, string>,
  kind: "query" | "mutation" = "mutation",
): Promise<T> {
  const { body } = await t.call(path, input, { kind, headers });
  if (body.error)
    throw new Refused(body.error.message, body.error.data.code, body.error.data.appCode);
  return body.result?.data as T;
}

/** A call as the project's editor, whose e-mail is ueditor@example.com. */
const asEditor = <T = unknown>(path: string, input: unknown, kind?: "query" | "mutation") =>
  api<T>(path, input, team.headers.editor, kind);

type AgentCall = <T = unknown>(
  procedure: string,
  input?: unknown,
  kind?: "query" | "mutation",
) => Promise<T>;

interface Beat {
  proceed: boolean;
  session?: {
    idleRemainingMs: number;
    limit: SessionLimit;
    resumeRequested: boolean;
    resumeChoice?: string;
  };
}

/** Calls as the agent of the attempt, with the token the scheduler launched it with. */
function agentOf(attemptId: string): AgentCall {
  const token = t.executor.launches.find((l) => l.attemptId === attemptId)?.token ?? "";
  return (procedure, input, kind) => api(`agent.${procedure}`, input, bearerHeader(token), kind);
}

const assignments = new Map<string, AttemptAssignment>();
const hang = () => new Promise<never>(() => undefined);

/**
 * Agents as the real one behaves towards the server: start, fetch the assignment, then `script`. Whatever
 * the script leaves open (a paused session) the test drives as that agent.
 */
function agents(
  script: (a: {
    attemptId: string;
    assignment: AttemptAssignment;
    agent: AgentCall;
  }) => Promise<void>,
) {
  t.executor.behaviour = async ({ attemptId }) => {
    const agent = agentOf(attemptId);
    await agent("started", { pid: 4242 });
    const assignment = await agent<AttemptAssignment>("assignment", undefined, "query");
    assignments.set(attemptId, assignment);
    await script({ attemptId, assignment, agent });
  };
}

/** Runs the task for real: reads its inputs, uploads its outputs, completes. */
async function complete(assignment: AttemptAssignment, agent: AgentCall): Promise<void> {
  // Small inputs come in the assignment; larger ones at a signed path, which an agent resolves against the
  // endpoint it reaches the server on.
  const inputs =
    assignment.inputs ??
    (await t.plane.app.inject({ url: assignment.inputsUrl ?? "" })).json<
      Record<string, JsonValue>
    >();
  const bytes = Buffer.from(JSON.stringify(computePipeline(assignment.task.name, inputs)));
  const put = await t.plane.app.inject({
    method: "PUT",
    url: assignment.outputsUploadUrl,
    payload: bytes,
    headers: { "content-type": "application/octet-stream" },
  });
  expect(put.statusCode).toBeLessThan(300);
  await agent("complete", { outputsSha256: createHash("sha256").update(bytes).digest("hex") });
}

/** Range's attempts pause at the throw with their session open; the other tasks run. */
function rangePausesOnThrow() {
  agents(async ({ assignment, agent }) => {
    if (assignment.task.name !== "range") return complete(assignment, agent);
    await agent("openSession", { maxIdleSeconds: 600, pause: THROW });
    return hang();
  });
}

async function register(tasks: TaskSpec[]): Promise<string> {
  const version = `v${++seq}`;
  await t.db
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

const pipelineTasks = (range: Partial<TaskSpec> = {}, square: Partial<TaskSpec> = {}) => [
  task("range", ["n"], range),
  task("square", ["x", "k"], square),
  task("sum", ["xs"]),
];

function launch(version: string, count: number, pauseBefore?: string[]): Promise<Execution> {
  return asEditor<Execution>("executions.create", {
    project: "default",
    workflow: pipeline.name,
    version,
    inputs: { count },
    ...(pauseBefore ? { pauseBefore } : {}),
  });
}

const detail = (id: string) => asEditor<ExecutionDetail>("executions.get", { id }, "query");
const nodeOf = (executionId: string, nodeId: string) =>
  asEditor<NodeExecution>("executions.node", { executionId, nodeId }, "query");

async function ended(id: string, status: string): Promise<ExecutionDetail> {
  await vi.waitFor(async () => expect((await detail(id)).execution.status).toBe(status), {
    timeout: 5_000,
    interval: 20,
  });
  return detail(id);
}

/** The node's attempt `number` once its session is open: the attempt's id and the session. */
async function liveSession(
  executionId: string,
  nodeId: string,
  number: number,
): Promise<{ attemptId: string; session: InteractiveSession }> {
  return vi.waitFor(
    async () => {
      const attempt = (await nodeOf(executionId, nodeId)).attempts.find((a) => a.number === number);
      expect(attempt?.session?.state).toBe("STARTING");
      return {
        attemptId: attempt?.id ?? "",
        session: attempt?.session as InteractiveSession,
      };
    },
    { timeout: 5_000, interval: 20 },
  );
}

const resume = (executionId: string, choice?: string) =>
  asEditor<InteractiveSession>("sessions.resume", {
    executionId,
    nodeId: "n0",
    ...(choice ? { choice } : {}),
  });

describe("the two limits: unopened, then idle", () => {
  it("a session nobody opened runs on maxUnopenedSeconds; a redeemed ticket opens it, and maxIdleSeconds applies from then", async () => {
    agents(async ({ assignment, agent }) => {
      if (assignment.task.name !== "range") return complete(assignment, agent);
      await agent("openSession", { maxIdleSeconds: 600, maxUnopenedSeconds: 120 });
      return hang();
    });
    const x = await launch(await register(pipelineTasks()), 1);
    const { attemptId, session } = await liveSession(x.id, "n0", 1);
    expect(session).toMatchObject({
      limit: "unopened",
      maxIdleSeconds: 600,
      maxUnopenedSeconds: 120,
    });
    expect(session.openedAt).toBeUndefined();
    const agent = agentOf(attemptId);
    const quiet = await agent<Beat>("heartbeat", {});
    expect(quiet.session).toMatchObject({ limit: "unopened", resumeRequested: false });
    expect(quiet.session?.idleRemainingMs).toBeGreaterThan(115_000);
    expect(quiet.session?.idleRemainingMs).toBeLessThanOrEqual(120_000);

    // A ticket the relay cannot spend opens nothing.
    const relay = bearerHeader(t.relayToken);
    const bogus = { sessionId: session.id, ticket: randomBytes(32).toString("base64url") };
    await expect(api("relay.redeemTicket", bogus, relay)).rejects.toMatchObject({
      appCode: "RELAY_TICKET_UNKNOWN",
    });
    expect((await agent<Beat>("heartbeat", {})).session?.limit).toBe("unopened");

    const { url } = await asEditor<{ url: string }>("sessions.ideTicket", {
      sessionId: session.id,
    });
    const ticket = new URL(url).searchParams.get("ticket");
    await api("relay.redeemTicket", { sessionId: session.id, ticket }, relay);
    const opened = await agent<Beat>("heartbeat", {});
    expect(opened.session?.limit).toBe("idle");
    expect(opened.session?.idleRemainingMs).toBeGreaterThan(595_000);
    expect(opened.session?.idleRemainingMs).toBeLessThanOrEqual(600_000);
    const shown = (await nodeOf(x.id, "n0")).attempts[0]?.session;
    expect(shown?.limit).toBe("idle");
    expect(Date.now() - Date.parse(shown?.openedAt ?? "")).toBeLessThan(60_000);
    await asEditor("executions.abort", { id: x.id });
  });

  it("traffic alone (the relay's readiness probe is traffic) does not open a session; a sign-in on its pinned port does", async () => {
    agents(async ({ agent }) => {
      await agent("openSession", { maxIdleSeconds: 900 });
      return hang();
    });
    const x = await launch(await register(pipelineTasks()), 1);
    const { attemptId, session } = await liveSession(x.id, "n0", 1);
    // The default: a quarter of maxIdleSeconds.
    expect(session).toMatchObject({ limit: "unopened", maxUnopenedSeconds: 225 });
    const busy = await agentOf(attemptId)<Beat>("heartbeat", { sessionActive: true });
    expect(busy.session?.limit).toBe("unopened");
    expect(busy.session?.idleRemainingMs).toBeLessThanOrEqual(225_000);
    expect((await nodeOf(x.id, "n0")).attempts[0]?.session?.openedAt).toBeUndefined();

    const beat = await agentOf(attemptId)<Beat>("heartbeat", { sessionOpened: true });
    expect(beat.session?.limit).toBe("idle");
    expect(beat.session?.idleRemainingMs).toBeGreaterThan(895_000);
    expect((await nodeOf(x.id, "n0")).attempts[0]?.session?.openedAt).toBeDefined();
    await asEditor("executions.abort", { id: x.id });
  });

  it("a session that ended unopened fails its attempt for good: never retried, the end reason says unopened", async () => {
    agents(async ({ assignment, agent }) => {
      await agent("openSession", { maxIdleSeconds: 600, maxUnopenedSeconds: 60 });
      await agent("fail", {
        error: {
          message: `the interactive session of task ${assignment.task.name} ended after 60 s without being opened (maxUnopenedSeconds)`,
          code: SESSION_UNOPENED_CODE,
        },
      });
    });
    const x = await launch(await register(pipelineTasks({ retries: 2 })), 1);
    const done = await ended(x.id, "FAILED");
    const [n0, n1, n2] = done.nodes;
    expect(n0?.attempts.map((a) => [a.status, a.error?.code, a.session?.endReason])).toEqual([
      ["FAILED", SESSION_UNOPENED_CODE, "unopened"],
    ]);
    expect(n0?.status).toBe("FAILED");
    expect([n1?.status, n2?.status]).toEqual(["SKIPPED", "SKIPPED"]);
  });
});

describe("resume choices on a paused task", () => {
  it("original from the console: recorded with the user's e-mail and audited; the node runs again although retries are 0, and pauses again", async () => {
    rangePausesOnThrow();
    const x = await launch(await register(pipelineTasks()), 2);
    const first = await liveSession(x.id, "n0", 1);
    expect(first.session.pause).toEqual(THROW);
    expect(describePause(first.session.pause ?? THROW)).toBe("paused at src/steps.ts:12: boom");

    const asked = await resume(x.id, "original");
    expect(asked).toMatchObject({ resumeChoice: "original", pause: THROW });
    expect(asked.resumeRequestedAt).toBeDefined();
    const agent = agentOf(first.attemptId);
    expect((await agent<Beat>("heartbeat", {})).session).toMatchObject({
      resumeRequested: true,
      resumeChoice: "original",
    });
    const record = { choice: "original", by: EDITOR_EMAIL, at: asked.resumeRequestedAt };
    expect((await nodeOf(x.id, "n0")).attempts[0]?.resume).toEqual(record);

    // The same choice again changes nothing; another one is refused, naming the one taken.
    expect((await resume(x.id, "original")).resumeRequestedAt).toBe(asked.resumeRequestedAt);
    await expect(resume(x.id, "fail")).rejects.toMatchObject({
      code: "CONFLICT",
      appCode: "RESUME_CHOICE_TAKEN",
      message: `node "n0" of execution "${x.id}" is already resuming with "original"; it cannot also resume with "fail"`,
    });

    // The agent acts on it: the paused process ends, the attempt fails with the original error.
    await agent("endSession", { reason: "resumed" });
    await agent("fail", { error: { ...ORIGINAL, code: RESUME_ORIGINAL_CODE } });
    const second = await liveSession(x.id, "n0", 2);
    expect(second.session.pause).toEqual(THROW);
    const [a1] = (await nodeOf(x.id, "n0")).attempts;
    expect(a1).toMatchObject({
      status: "FAILED",
      error: { ...ORIGINAL, code: RESUME_ORIGINAL_CODE },
      resume: record,
      session: { state: "ENDED", endReason: "resumed" },
    });

    const audited = await t.db
      .selectFrom("audit_log")
      .select(["actor_kind", "actor_user_id", "detail"])
      .where("action", "=", "session.resume")
      .where("execution_id", "=", x.id)
      .orderBy("id")
      .execute();
    const asUser = { actor_kind: "user", actor_user_id: "ueditor", detail: { choice: "original" } };
    expect(audited).toEqual([
      asUser,
      asUser,
      { actor_kind: "agent", actor_user_id: null, detail: { choice: "original", from: "ide" } },
    ]);

    // Ended as failed from the IDE this time: the node fails with the original error, nothing runs on.
    const agent2 = agentOf(second.attemptId);
    await agent2("endSession", {
      reason: "resumed",
      resume: { choice: "fail", by: "the IDE" },
    });
    await agent2("fail", { error: { ...ORIGINAL, code: RESUME_FAIL_CODE } });
    const done = await ended(x.id, "FAILED");
    const [n0, n1, n2] = done.nodes;
    expect(n0?.status).toBe("FAILED");
    expect(n0?.error).toEqual({ ...ORIGINAL, code: RESUME_FAIL_CODE });
    expect(n0?.attempts.map((a) => [a.number, a.status, a.resume?.choice, a.resume?.by])).toEqual([
      [1, "FAILED", "original", EDITOR_EMAIL],
      [2, "FAILED", "fail", "the IDE"],
    ]);
    expect([n1?.status, n1?.attempts, n2?.status, n2?.attempts]).toEqual([
      "SKIPPED",
      [],
      "SKIPPED",
      [],
    ]);
    expect(done.execution.error).toMatchObject({
      message: "node n0 (range) failed: boom",
      stack: ORIGINAL.stack,
      code: RESUME_FAIL_CODE,
    });
  });

  it("fail from the console ends the node at once though retries are left; original does not spend the task's retries", async () => {
    rangePausesOnThrow();
    const version = await register(pipelineTasks({ retries: 1 }));

    const failed = await launch(version, 1);
    const only = await liveSession(failed.id, "n0", 1);
    const asked = await resume(failed.id, "fail");
    expect(asked.resumeChoice).toBe("fail");
    const agent = agentOf(only.attemptId);
    expect((await agent<Beat>("heartbeat", {})).session?.resumeChoice).toBe("fail");
    await agent("endSession", { reason: "resumed" });
    await agent("fail", { error: { ...ORIGINAL, code: RESUME_FAIL_CODE } });
    const done = await ended(failed.id, "FAILED");
    expect(done.nodes[0]?.attempts.map((a) => [a.status, a.resume?.choice, a.resume?.by])).toEqual([
      ["FAILED", "fail", EDITOR_EMAIL],
    ]);
    expect(done.nodes[0]?.error).toEqual({ ...ORIGINAL, code: RESUME_FAIL_CODE });

    // Original from the IDE, then a plain failure: the one retry is still there.
    const retried = await launch(version, 1);
    const a1 = await liveSession(retried.id, "n0", 1);
    const agent1 = agentOf(a1.attemptId);
    await agent1("endSession", {
      reason: "resumed",
      resume: { choice: "original", by: "the IDE" },
    });
    await agent1("fail", { error: { ...ORIGINAL, code: RESUME_ORIGINAL_CODE } });
    const a2 = await liveSession(retried.id, "n0", 2);
    await agentOf(a2.attemptId)("fail", { error: { message: "boom", code: "TASK_FAILED" } });
    await liveSession(retried.id, "n0", 3);
    const attempts = (await nodeOf(retried.id, "n0")).attempts;
    expect(attempts.map((a) => [a.number, a.status, a.resume?.choice, a.resume?.by])).toEqual([
      [1, "FAILED", "original", "the IDE"],
      [2, "FAILED", undefined, undefined],
      [3, "RUNNING", undefined, undefined],
    ]);
    await asEditor("executions.abort", { id: retried.id });
  });

  it("original and fail need a paused task; edited resumes any session; the agent's own record does not replace the console's", async () => {
    agents(async ({ assignment, agent }) => {
      if (assignment.task.name !== "range") return complete(assignment, agent);
      await agent("openSession", { maxIdleSeconds: 600 });
      return hang();
    });
    const x = await launch(await register(pipelineTasks()), 1);
    const { attemptId, session } = await liveSession(x.id, "n0", 1);
    expect(session.pause).toBeUndefined();
    for (const choice of ["original", "fail"])
      await expect(resume(x.id, choice)).rejects.toMatchObject({
        code: "BAD_REQUEST",
        appCode: "SESSION_NOT_PAUSED",
        message: `node "n0" of execution "${x.id}" cannot resume with "${choice}": its session's task is not paused (no throw to end with, no process held before it ran), so only "edited" can resume it`,
      });
    await expect(resume(x.id, "skip")).rejects.toMatchObject({ code: "BAD_REQUEST" });

    // The task's process pauses, then runs on (continued in the debugger): original is refused again.
    const agent = agentOf(attemptId);
    await agent("updateSession", { pause: BEFORE });
    expect((await nodeOf(x.id, "n0")).attempts[0]?.session?.pause).toEqual(BEFORE);
    await agent("updateSession", { pause: null });
    expect((await nodeOf(x.id, "n0")).attempts[0]?.session?.pause).toBeUndefined();
    await expect(resume(x.id, "original")).rejects.toMatchObject({
      appCode: "SESSION_NOT_PAUSED",
    });
    let attempt = (await nodeOf(x.id, "n0")).attempts[0];
    expect(attempt?.session?.resumeRequestedAt).toBeUndefined();
    expect(attempt?.resume).toBeUndefined();

    const asked = await resume(x.id);
    expect(asked.resumeChoice).toBe("edited");
    await agent("endSession", { reason: "resumed", resume: { choice: "edited", by: "the IDE" } });
    attempt = (await nodeOf(x.id, "n0")).attempts[0];
    expect(attempt?.resume).toEqual({
      choice: "edited",
      by: EDITOR_EMAIL,
      at: asked.resumeRequestedAt,
    });
    await complete(assignments.get(attemptId) as AttemptAssignment, agent);
    expect((await ended(x.id, "SUCCEEDED")).execution.result).toBe(1);
  });
});

/**
 * Range runs; a node held by a pause point opens its session paused before its task, the person continues in
 * the debugger, and it runs to its end for real.
 */
function pausePointAgents() {
  agents(async ({ assignment, agent }) => {
    if (!assignment.pauseBefore) return complete(assignment, agent);
    await agent("openSession", { pause: BEFORE });
    await agent("updateSession", { pause: null });
    await agent("endSession", {
      reason: "resumed",
      resume: { choice: "continued", by: "the debugger" },
    });
    return complete(assignment, agent);
  });
}

describe("pause points", () => {
  it("executions.create refuses unknown pause points, naming them and the workflow's nodes, and starts nothing", async () => {
    const version = await register(pipelineTasks());
    const count = async () => (await t.db.selectFrom("executions").select("id").execute()).length;
    const before = await count();
    await expect(launch(version, 1, ["n9", "n2", "zz", "n9"])).rejects.toMatchObject({
      code: "BAD_REQUEST",
      appCode: "PAUSE_NODE_NOT_FOUND",
      message: 'workflow "pipe" has no node "n9", "zz" to pause before; its nodes are n0, n1, n2',
    });
    expect(await count()).toBe(before);
  });

  it("holds the named nodes (a fan-out's every element), even tasks that are not interactive, and never reads or writes the task cache", async () => {
    pausePointAgents();
    const version = await register(pipelineTasks({}, { cache: { version: "pause-points" } }));
    const cacheRows = () =>
      t.db
        .selectFrom("task_cache")
        .select(["execution_id", "node_id"])
        .where("cache_key", "=", "v:pause-points")
        .orderBy("node_id")
        .execute();

    const filled = await launch(version, 2);
    expect(filled.pauseBefore).toEqual([]);
    await ended(filled.id, "SUCCEEDED");
    const entries = await cacheRows();
    expect(entries).toEqual([
      { execution_id: filled.id, node_id: "n1[0]" },
      { execution_id: filled.id, node_id: "n1[1]" },
    ]);

    const held = await launch(version, 2, ["n1", "n2", "n1"]);
    expect(held.pauseBefore).toEqual(["n1", "n2"]);
    const done = await ended(held.id, "SUCCEEDED");
    expect(done.execution.result).toBe(5);
    expect(done.execution.pauseBefore).toEqual(["n1", "n2"]);
    const paused = [...assignments.values()]
      .filter((a) => a.executionId === held.id)
      .map((a) => [a.nodeId, a.pauseBefore ?? false])
      .sort();
    expect(paused).toEqual([
      ["n0", false],
      ["n1[0]", true],
      ["n1[1]", true],
      ["n2", true],
    ]);
    for (const node of done.nodes.filter((n) => n.nodeId !== "n0" && n.nodeId !== "n1")) {
      expect(node.reused).toBeUndefined();
      expect(node.attempts).toHaveLength(1);
      expect(node.attempts[0]?.resume).toMatchObject({ choice: "continued", by: "the debugger" });
      expect(node.attempts[0]?.session).toMatchObject({ state: "ENDED", endReason: "resumed" });
      expect(node.attempts[0]?.session?.pause).toBeUndefined();
    }
    // The cache kept the entries of the run before.
    expect(await cacheRows()).toEqual(entries);

    // Without pause points, the same run reuses them.
    const reusing = await ended((await launch(version, 2)).id, "SUCCEEDED");
    expect(reusing.nodes.find((n) => n.nodeId === "n1[0]")?.reused).toMatchObject({
      from: "cache",
      executionId: filled.id,
    });
  });

  it("tells the executor which attempts may pause (onFailure pause, a pause point), so their agents start the task's process beside themselves", async () => {
    pausePointAgents();
    const interactive = InteractiveConfigSchema.parse({ onFailure: "pause" });
    const version = await register(pipelineTasks({}, { interactive }));
    const launched = (id: string) =>
      t.executor.launches
        .filter((l) => l.executionId === id)
        .map((l) => [l.attemptId.slice(id.length + 1), l.pauses ?? false]);

    // square (n1's elements) pauses on a throw; n2 is a pause point; range (n0) neither.
    const done = await ended((await launch(version, 2, ["n2"])).id, "SUCCEEDED");
    expect(launched(done.execution.id).sort()).toEqual([
      ["n0.a1", false],
      ["n1[0].a1", true],
      ["n1[1].a1", true],
      ["n2.a1", true],
    ]);
  });

  it("executions.debug with pauseBefore holds the debug run's node, a fan-out element by its own id", async () => {
    pausePointAgents();
    const version = await register(pipelineTasks());
    const original = await launch(version, 2);
    await ended(original.id, "SUCCEEDED");

    const held = await asEditor<Execution>("executions.debug", {
      executionId: original.id,
      nodeId: "n1[1]",
      pauseBefore: true,
    });
    expect(held).toMatchObject({
      pauseBefore: ["n1[1]"],
      debugOf: { executionId: original.id, nodeId: "n1[1]" },
    });
    const done = await ended(held.id, "SUCCEEDED");
    expect(done.execution.result).toBe(4);
    const attempt = done.nodes[0]?.attempts[0];
    expect(assignments.get(attempt?.id ?? "")?.pauseBefore).toBe(true);
    expect(attempt?.resume).toMatchObject({ choice: "continued", by: "the debugger" });

    const plain = await asEditor<Execution>("executions.debug", {
      executionId: original.id,
      nodeId: "n1[1]",
    });
    expect(plain.pauseBefore).toEqual([]);
    const plainAttempt = (await ended(plain.id, "SUCCEEDED")).nodes[0]?.attempts[0];
    expect(assignments.get(plainAttempt?.id ?? "")?.pauseBefore).toBeUndefined();
  });
});
