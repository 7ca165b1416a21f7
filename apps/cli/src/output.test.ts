import type {
  Attempt,
  ExecutionDetail,
  InteractiveSession,
  WorkflowVersion,
} from "@drydock/contracts";
import { describe, expect, it } from "vitest";

import { describeReadyIde } from "./follow.js";
import { formatExecutionDetail, formatWorkflowVersion } from "./output.js";

const AT = "2026-12-06T10:00:00.000Z";
const LATER = "2026-12-06T10:00:02.000Z";

const node = (nodeId: string, task: string, extra: Partial<ExecutionDetail["nodes"][number]>) => ({
  executionId: "x2",
  nodeId,
  task,
  status: "SUCCEEDED" as const,
  attempts: [],
  startedAt: AT,
  endedAt: LATER,
  ...extra,
});

describe("executions get", () => {
  it("shows where a recovered execution came from and which nodes' outputs were reused", () => {
    const detail: ExecutionDetail = {
      execution: {
        id: "x2",
        project: "default",
        workflow: "pipeline",
        version: "v1",
        status: "SUCCEEDED",
        inputs: {},
        createdAt: AT,
        endedAt: LATER,
        parent: { executionId: "x1", kind: "recover", force: ["n1"] },
        overwriteCache: true,
        pauseBefore: [],
      },
      nodes: [
        node("n0", "load", { reused: { from: "parent", executionId: "x1", nodeId: "n0" } }),
        node("n1", "clean", { reused: { from: "cache", executionId: "x0", nodeId: "n1" } }),
        node("n2", "train", {}),
      ],
    };
    expect(formatExecutionDetail(detail).split("\n")).toEqual([
      "execution x2  workflow pipeline (version v1)  SUCCEEDED  2.0s",
      "recovered from x1 (run again: n1)",
      "launched with --overwrite-cache: cached tasks ran again",
      "inputs: {}",
      "",
      "NODE  TASK   STATUS     ATTEMPTS  DURATION  OUTPUTS",
      "n0    load   SUCCEEDED  0         2.0s      reused from x1 n0",
      "n1    clean  SUCCEEDED  0         2.0s      cached from x0 n1",
      "n2    train  SUCCEEDED  0         2.0s",
    ]);
    const forked = formatExecutionDetail({
      execution: {
        ...detail.execution,
        parent: { executionId: "x1", kind: "fork", nodeId: "n2", force: [] },
        overwriteCache: false,
      },
      nodes: [node("n2", "train", {})],
    });
    expect(forked).toContain("\nforked from x1 node n2\ninputs: {}\n");
    expect(forked).not.toContain("OUTPUTS");
  });
});

describe("executions get: paused tasks, resume choices and the two session limits", () => {
  const NOW = Date.parse(LATER);
  const session = (extra: Partial<InteractiveSession>): InteractiveSession => ({
    id: "s1",
    attemptId: "a1",
    state: "READY",
    maxIdleSeconds: 36_000,
    maxUnopenedSeconds: 9_000,
    limit: "idle",
    extensionProblems: [],
    hasChanges: false,
    createdAt: AT,
    ...extra,
  });
  const attempt = (number: number, extra: Partial<Attempt>): Attempt => ({
    id: `a${number}`,
    executionId: "x3",
    nodeId: "n1",
    number,
    status: "RUNNING",
    createdAt: AT,
    ...extra,
  });
  const detail = (attempts: Attempt[], pauseBefore: string[] = []): ExecutionDetail => ({
    execution: {
      id: "x3",
      project: "default",
      workflow: "steps",
      version: "v1",
      status: "RUNNING",
      inputs: {},
      createdAt: AT,
      overwriteCache: false,
      pauseBefore,
    },
    nodes: [node("n1", "parse", { status: "RUNNING", endedAt: undefined, attempts })],
  });
  // The part under the node table.
  const attemptLines = (d: ExecutionDetail) => formatExecutionDetail(d, NOW).split("\n").slice(6);

  it("shows where a live session's task is paused, and the unopened limit until someone opens it", () => {
    const paused = session({
      limit: "unopened",
      idleDeadline: new Date(NOW + 299_000).toISOString(),
      pause: { reason: "exception", file: "steps.ts", line: 12, message: "boom", at: AT },
    });
    expect(attemptLines(detail([attempt(1, { session: paused })]))).toEqual([
      "n1 attempt 1: RUNNING",
      "  IDE session READY, ends in 4m 59s unless opened",
      "  paused at steps.ts:12: boom",
    ]);
    const opened = session({
      openedAt: AT,
      idleDeadline: new Date(NOW + 36_000_000).toISOString(),
      pause: { reason: "before", file: "steps.ts", line: 3, message: "pause point", at: AT },
      resumeRequestedAt: LATER,
      resumeChoice: "original",
    });
    expect(attemptLines(detail([attempt(1, { session: opened })]))).toEqual([
      "n1 attempt 1: RUNNING",
      "  IDE session READY, ends idle in 10h 0m unless used",
      "  paused before the task at steps.ts:3",
      `  asked to resume: original at ${LATER}`,
    ]);
  });

  it("shows each attempt's resume choice, who made it and when, and an unopened end as such", () => {
    const text = formatExecutionDetail(
      detail(
        [
          attempt(1, {
            status: "FAILED",
            error: { message: "boom", code: "RESUMED_WITH_ORIGINAL_CODE" },
            session: session({ state: "ENDED", endReason: "resumed", endedAt: LATER }),
            resume: { choice: "original", by: "alice@example.com", at: LATER },
          }),
          attempt(2, {
            status: "FAILED",
            error: { message: "the interactive session ended unopened", code: "SESSION_UNOPENED" },
            session: session({ id: "s2", state: "ENDED", endReason: "unopened", endedAt: LATER }),
          }),
          attempt(3, {
            status: "SUCCEEDED",
            resume: { choice: "continued", by: "the debugger", at: LATER },
          }),
          attempt(4, { status: "FAILED", error: { message: "not interactive" } }),
        ],
        ["n1", "n2"],
      ),
      NOW,
    );
    const lines = text.split("\n");
    expect(lines[1]).toBe("launched with --pause-before n1, n2");
    expect(lines.slice(7)).toEqual([
      "n1 attempt 1: FAILED: boom [RESUMED_WITH_ORIGINAL_CODE]",
      "  IDE session ended: resumed",
      `  resumed: original by alice@example.com at ${LATER}`,
      "n1 attempt 2: FAILED: the interactive session ended unopened [SESSION_UNOPENED]",
      "  IDE session ended: unopened",
      "n1 attempt 3: SUCCEEDED",
      `  resumed: continued by the debugger at ${LATER}`,
    ]);
  });

  it("says nothing under the table when no attempt had a session", () => {
    const text = formatExecutionDetail(detail([attempt(1, { status: "FAILED" })]), NOW);
    expect(text.split("\n").at(-1)).toBe("n1    parse  RUNNING  1         2.0s");
  });
});

describe("the IDE-ready announcement of run --remote --wait and debug --wait", () => {
  const ticket = { url: "http://s1.localhost:8485/__drydock/redeem?ticket=t", expiresAt: LATER };

  it("says where a paused task stopped and the three ways to resume it", () => {
    const text = describeReadyIde(
      "x3",
      "n1",
      { pause: { reason: "exception", file: "steps.ts", line: 12, message: "boom", at: AT } },
      ticket,
    );
    expect(text.split("\n").slice(2)).toEqual([
      "  paused at steps.ts:12: boom",
      '  opening the IDE attaches the debugger to the paused task ("Attach to Paused Task"); when you are done: drydock resume x3 n1 --edited | --original | --fail',
      "",
    ]);
  });

  it("keeps today's words for a session that is not paused", () => {
    const text = describeReadyIde("x3", "n1", {}, ticket);
    expect(text).toBe(
      `IDE ready: ${ticket.url}\n` +
        `  (a single-use link, valid until ${LATER}; the console's VSCode (User) link opens the IDE again)\n` +
        '  run "Interactive Debugging" there; when you are done, "Resume Task", or: drydock resume x3 n1\n',
    );
  });
});

describe("workflows get", () => {
  const version: WorkflowVersion = {
    project: "default",
    name: "pipeline",
    version: "v2",
    bundle: "a".repeat(64),
    entry: "workflow.ts",
    spec: {
      name: "pipeline",
      inputs: {},
      required: [],
      nodes: [],
      output: { kind: "literal", value: null },
    },
    tasks: [{ name: "load" }, { name: "train" }] as WorkflowVersion["tasks"],
    createdAt: AT,
  };

  it("shows the git commit a version was registered from, and whether it was dirty", () => {
    const text = formatWorkflowVersion({
      ...version,
      origin: {
        host: "laptop",
        root: "/home/ada/pipelines",
        files: {},
        git: {
          toplevel: "/home/ada",
          commit: "b".repeat(40),
          branch: "main",
          dirty: true,
          dirtyFiles: ["workflow.ts"],
        },
      },
    });
    expect(text).toContain("registered from: /home/ada/pipelines on laptop\n");
    expect(text).toContain(
      `git: commit ${"b".repeat(40)} on main with uncommitted changes (workflow.ts)`,
    );
  });

  it("shows a fork's lineage", () => {
    const text = formatWorkflowVersion({
      ...version,
      forkedFrom: {
        version: "v1",
        executionId: "x1",
        nodeId: "n2",
        sessionId: "s1",
        patch: "--- a/workflow.ts\n",
        changedTasks: ["train"],
      },
    });
    expect(text.split("\n").at(-1)).toBe("forked from v1 with edits from x1 n2 (changed: train)");
    expect(text).not.toContain("registered from:");
  });
});
