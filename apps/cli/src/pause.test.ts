import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { AppError } from "@drydock/contracts";
import type { Execution, ExecutionDetail, InteractiveSession } from "@drydock/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { TestControlPlane } from "./test/control-plane.js";
import { CLI_PACKAGE, runCli } from "./test/run-cli.js";

// Two trivial tasks and a fan-out: registering it is all `run --remote` needs of it here.
const FANOUT = resolve(CLI_PACKAGE, "../../examples/fanout/workflow.ts");
const AT = "2026-12-06T10:00:00.000Z";

let home: string;
let plane: TestControlPlane;
let token: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "drydock-cli-pause-"));
  plane = new TestControlPlane();
  token = plane.state.addUser("ada", "Ada Lovelace");
  await plane.listen();
});
afterAll(async () => {
  await plane?.close();
  await rm(home, { recursive: true, force: true });
});

const connection = () => ["--endpoint", plane.url, "--token", token];
const drydock = (args: string[], options: { terminal?: string } = {}) =>
  runCli([...args, ...connection()], { home, ...options });

const launched: Execution = {
  id: "x2",
  project: "default",
  workflow: "fanout",
  version: "v1",
  status: "RUNNING",
  inputs: {},
  createdAt: AT,
  overwriteCache: false,
  pauseBefore: [],
};

const pausedSession: InteractiveSession = {
  id: "s1",
  attemptId: "a1",
  state: "READY",
  link: "http://s1.localhost:8485/",
  maxIdleSeconds: 36_000,
  maxUnopenedSeconds: 9_000,
  limit: "unopened",
  pause: {
    reason: "exception",
    file: "steps.ts",
    line: 12,
    message: "boom",
    name: "Error",
    stack: "Error: boom\n    at parse (steps.ts:12:11)",
    at: AT,
  },
  extensionProblems: [],
  hasChanges: true,
  createdAt: AT,
};

/** What the CLI asked of the control plane since `from`. */
const askedSince = (from: number) => plane.state.asked.slice(from);

beforeEach(() => {
  plane.state.launched = launched;
  plane.state.resumeAnswer = { ...pausedSession, resumeRequestedAt: AT };
  plane.state.detail = undefined;
});

describe("drydock resume --edited | --original | --fail", { timeout: 120_000 }, () => {
  it("takes at most one choice, naming the ones given, and calls nothing", async () => {
    const from = plane.state.asked.length;
    const [two, three] = await Promise.all([
      drydock(["resume", "x1", "n1", "--original", "--fail", "--yes"]),
      drydock(["resume", "x1", "n1", "--edited", "--original", "--fail", "--yes"]),
    ]);
    expect(two).toMatchObject({ code: 2, stdout: "" });
    expect(two.stderr).toBe(
      "error: --original and --fail are different ways to resume: give at most one\n",
    );
    expect(three).toMatchObject({ code: 2, stdout: "" });
    expect(three.stderr).toBe(
      "error: --edited, --original and --fail are different ways to resume: give at most one\n",
    );
    expect(askedSince(from)).toEqual([]);
  });

  it("asks the server for the choice given, edited by default, and says what happens next", async () => {
    const from = plane.state.asked.length;
    const byDefault = await drydock(["resume", "x1", "n1", "--yes"]);
    const edited = await drydock(["resume", "x1", "n1", "--edited", "--yes"]);
    const original = await drydock(["resume", "x1", "n1", "--original", "--yes"]);
    const fail = await drydock(["resume", "x1", "n1", "--fail", "--yes"]);
    for (const r of [byDefault, edited, original, fail]) expect(r.code, r.stderr).toBe(0);
    expect(askedSince(from)).toEqual(
      ["edited", "edited", "original", "fail"].map((choice) => ({
        procedure: "sessions.resume",
        input: { executionId: "x1", nodeId: "n1", choice },
      })),
    );
    expect(byDefault.stdout).toBe(edited.stdout);
    expect(edited.stdout.split("\n")[0]).toBe(
      "resuming task n1 of execution x1: code-server stops and the task runs with the edited sources",
    );
    expect(original.stdout.split("\n")[0]).toBe(
      "resuming task n1 of execution x1 with its original code: code-server stops, this attempt fails with its error and a new attempt runs the registered code",
    );
    expect(fail.stdout.split("\n")[0]).toBe(
      "ending task n1 of execution x1 as failed: code-server stops and the node fails with the original error; what follows it does not run",
    );
    expect(original.stdout).toContain(
      `  follow it: drydock executions get x1   (console: ${plane.url}/executions/x1)\n`,
    );
    expect(original.stdout).toContain(
      "  the IDE's edits stay available: drydock changes x1 n1 > n1.patch\n",
    );
  });

  it("prints the server's answer as JSON with -o json", async () => {
    plane.state.resumeAnswer = {
      ...pausedSession,
      resumeRequestedAt: AT,
      resumeChoice: "fail",
    };
    const r = await drydock(["resume", "x1", "n1", "--fail", "--yes", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      id: "s1",
      resumeChoice: "fail",
      pause: { reason: "exception", file: "steps.ts", line: 12, message: "boom" },
    });
  });

  it("prints the server's refusal and exits 1", async () => {
    plane.state.resumeAnswer = new AppError(
      "SESSION_NOT_PAUSED",
      "BAD_REQUEST",
      'the task of node "n1" of execution "x1" is not paused: only --edited applies to it',
    );
    const r = await drydock(["resume", "x1", "n1", "--original", "--yes"]);
    expect(r).toMatchObject({ code: 1, stdout: "" });
    expect(r.stderr).toBe(
      'error: the task of node "n1" of execution "x1" is not paused: only --edited applies to it [SESSION_NOT_PAUSED]\n',
    );
  });

  it("on a terminal, asks about the choice given, and a no calls nothing", async () => {
    const from = plane.state.asked.length;
    const [original, fail] = await Promise.all([
      drydock(["resume", "x1", "n1", "--original"], { terminal: "n\n" }),
      drydock(["resume", "x1", "n1", "--fail"], { terminal: "\n" }),
    ]);
    expect(original.stdout).toContain(
      "Run the original code of task n1 of execution x1 again? code-server will stop, this attempt fails with its error and a new attempt runs the registered code [y/N]",
    );
    expect(fail.stdout).toContain(
      "End task n1 of execution x1 as failed? code-server will stop and the node fails with the original error; what follows it does not run [y/N]",
    );
    for (const r of [original, fail]) {
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("not resumed: task n1 of execution x1 keeps its IDE");
    }
    expect(askedSince(from)).toEqual([]);

    const yes = await drydock(["resume", "x1", "n1", "--fail"], { terminal: "y\n" });
    expect(yes.code, yes.stdout).toBe(0);
    expect(askedSince(from)).toEqual([
      { procedure: "sessions.resume", input: { executionId: "x1", nodeId: "n1", choice: "fail" } },
    ]);
  });
});

describe("--pause-before", { timeout: 120_000 }, () => {
  it("run --remote launches with the nodes named, repeated or comma-separated, each once", async () => {
    plane.state.launched = { ...launched, pauseBefore: ["n0", "n1", "n2"] };
    const from = plane.state.asked.length;
    const r = await drydock([
      "run",
      "--remote",
      "--pause-before",
      "n0",
      FANOUT,
      "fanout",
      "--count",
      "0",
      "--pause-before=n1,n2",
      "--pause-before",
      "n0",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(askedSince(from)).toEqual([
      {
        procedure: "executions.create",
        input: expect.objectContaining({
          workflow: "fanout",
          version: "v1",
          inputs: { count: 0 },
          pauseBefore: ["n0", "n1", "n2"],
        }) as unknown,
      },
    ]);
    expect(r.stdout).toBe(
      `execution x2 started\npaused before: n0, n1, n2 (each opens its IDE before its task runs)\nconsole: ${plane.url}/executions/x2\n`,
    );

    const plain = await drydock(["run", "--remote", FANOUT, "fanout", "--count", "0"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(askedSince(from)[1]?.input).toMatchObject({ pauseBefore: [] });
    expect(plain.stdout).not.toContain("paused before");
  });

  it("run refuses --pause-before locally, an empty node id and a missing value, before anything runs", async () => {
    const from = plane.state.asked.length;
    const [local, empty, missing] = await Promise.all([
      runCli(["run", FANOUT, "fanout", "--count", "0", "--pause-before", "n0"], { home }),
      drydock(["run", "--remote", FANOUT, "fanout", "--pause-before", "n0,", "--count", "0"]),
      drydock(["run", "--remote", FANOUT, "fanout", "--count", "0", "--pause-before"]),
    ]);
    expect(local).toMatchObject({ code: 2, stdout: "" });
    expect(local.stderr).toBe(
      "error: --pause-before only applies to --remote runs (local runs never start an IDE)\n",
    );
    expect(empty).toMatchObject({ code: 2, stdout: "" });
    expect(empty.stderr).toBe(
      "error: --pause-before names an empty node id (nodes are n0, n1, …)\n",
    );
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toBe("error: option --pause-before needs a value\n");
    expect(askedSince(from)).toEqual([]);
  });

  it("debug --pause-before asks for the debug run's node to be held", async () => {
    plane.state.launched = { ...launched, id: "x3", debugOf: { executionId: "x1", nodeId: "n0" } };
    plane.state.detail = {
      execution: plane.state.launched,
      nodes: [
        { executionId: "x3", nodeId: "n0", task: "indexes", status: "RUNNING", attempts: [] },
      ],
    };
    const from = plane.state.asked.length;
    const paused = await drydock(["debug", "x1", "n0", "--pause-before"]);
    const plain = await drydock(["debug", "x1", "n0"]);
    for (const r of [paused, plain]) expect(r.code, r.stderr).toBe(0);
    expect(askedSince(from)).toEqual([
      {
        procedure: "executions.debug",
        input: { executionId: "x1", nodeId: "n0", pauseBefore: true },
      },
      {
        procedure: "executions.debug",
        input: { executionId: "x1", nodeId: "n0", pauseBefore: false },
      },
    ]);
    expect(paused.stdout).toContain(
      "execution x3 started: task n0 of execution x1 again, in an IDE, with the inputs it had, paused on its task's first line\n",
    );
    expect(paused.stdout).toContain(
      "the debugger stops on the task's first line; continuing there runs the task for real\n",
    );
    expect(plain.stdout).toContain(
      "execution x3 started: task n0 of execution x1 again, in an IDE, with the inputs it had\n",
    );
    expect(plain.stdout).not.toContain("first line");
  });
});

describe("executions get of a paused task", { timeout: 120_000 }, () => {
  const detail = (): ExecutionDetail => ({
    execution: { ...launched, pauseBefore: ["n1"] },
    nodes: [
      {
        executionId: "x2",
        nodeId: "n1",
        task: "parse",
        status: "RUNNING",
        startedAt: AT,
        attempts: [
          {
            id: "a0",
            executionId: "x2",
            nodeId: "n1",
            number: 1,
            status: "FAILED",
            error: { message: "boom", code: "RESUMED_WITH_ORIGINAL_CODE" },
            createdAt: AT,
            resume: { choice: "original", by: "alice@example.com", at: AT },
          },
          {
            id: "a1",
            executionId: "x2",
            nodeId: "n1",
            number: 2,
            status: "RUNNING",
            createdAt: AT,
            // An hour from now: the CLI prints what is left of it.
            session: {
              ...pausedSession,
              idleDeadline: new Date(Date.now() + 3_600_000).toISOString(),
            },
          },
        ],
      },
    ],
  });

  it("prints where the task is paused, the limit that applies and each resume choice; JSON carries them as they are", async () => {
    plane.state.detail = detail();
    const [text, json] = await Promise.all([
      drydock(["executions", "get", "x2"]),
      drydock(["executions", "get", "x2", "-o", "json"]),
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("\nlaunched with --pause-before n1\n");
    expect(text.stdout).toContain(
      `\nn1 attempt 1: FAILED: boom [RESUMED_WITH_ORIGINAL_CODE]\n  resumed: original by alice@example.com at ${AT}\n`,
    );
    expect(text.stdout).toMatch(
      /\nn1 attempt 2: RUNNING\n {2}IDE session READY, ends in (59m \d+s|1h 0m) unless opened\n {2}paused at steps\.ts:12: boom\n$/,
    );
    expect(json.code, json.stderr).toBe(0);
    const got = JSON.parse(json.stdout) as ExecutionDetail;
    expect(got.execution.pauseBefore).toEqual(["n1"]);
    expect(got.nodes[0]?.attempts[0]?.resume).toEqual(detail().nodes[0]?.attempts[0]?.resume);
    expect(got.nodes[0]?.attempts[1]?.session).toMatchObject({
      limit: "unopened",
      maxUnopenedSeconds: 9_000,
      pause: pausedSession.pause,
    });
  });
});
