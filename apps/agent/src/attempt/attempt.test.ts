import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import {
  AppError,
  INLINE_JSON_BYTES,
  LAUNCH_NAMES,
  RESUME_FAIL_CODE,
  RESUME_ORIGINAL_CODE,
  SESSION_UNOPENED_CODE,
} from "@drydock/contracts";
import type { AttemptAssignment, InteractiveConfig } from "@drydock/contracts";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";

import type { AgentConfig } from "../env.js";
import { defaultIdeDir } from "../ide/runtime.js";
import { newState, TestControlPlane } from "../test/control-plane.js";
import { assignmentFor as assignmentOf, fixtureLine, packFixture } from "../test/fixture.js";
import type { FixtureBundle } from "../test/fixture.js";
import { serveAttempts } from "./attempt-loop.js";
import { AGENT_ERROR_CODES, EXIT_CODES } from "./exit-codes.js";
import { runOneAttempt } from "./run-one-attempt.js";

let scratch: string;
let bundle: FixtureBundle;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "drydock-agent-test-"));
  bundle = await packFixture(join(scratch, "project"));
  // The agent must run from the bundle alone.
  await rm(join(scratch, "project"), { recursive: true, force: true });
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const assignmentFor = (taskName: string, attemptId?: string) =>
  assignmentOf(bundle, taskName, attemptId);

let plane: TestControlPlane;
let cacheDir: string;
let warnings: string[];

beforeEach(async () => {
  plane = new TestControlPlane(
    newState(assignmentFor("add"), new Map([[bundle.sha256, bundle.tarball]])),
  );
  cacheDir = await mkdtemp(join(scratch, "cache-"));
  warnings = [];
});
afterEach(async () => {
  await plane.close();
});

function configFor(endpoint: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    endpoint,
    token: plane.state.token,
    cacheDir,
    ideDir: defaultIdeDir(process.env),
    logLevel: "warn",
    heartbeatMs: 50,
    reconnectSeconds: 30,
    defaultExtensions: [],
    childEnv: { PATH: process.env.PATH ?? "" },
    ...overrides,
  };
}

/** An agent logger that keeps its warnings for the assertions. */
function testLogger() {
  return pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
}

describe("runOneAttempt", () => {
  it("runs the task and reports its small output, with the log's last lines, in agent.complete: no upload, no blob read", async () => {
    const endpoint = await plane.listen();
    plane.state.inputs = { a: 2, b: 3 };

    const code = await runOneAttempt(configFor(endpoint), { logger: testLogger(), pid: 4242 });

    expect(code).toBe(EXIT_CODES.succeeded);
    const { calls, outputs } = plane.state;
    expect(calls.started).toEqual([{ pid: 4242 }]);
    expect(calls.fail).toEqual([]);
    const output = outputs.get("att-1");
    expect(output?.toString()).toBe(JSON.stringify({ sum: 5, doubled: 4 }));
    expect(calls.complete).toEqual([
      {
        outputsSha256: createHash("sha256")
          .update(output ?? "")
          .digest("hex"),
      },
    ]);
    expect(calls.logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stream: "stdout", text: "adding 2 and 3" }),
        expect.objectContaining({ stream: "stderr", text: "a line on stderr" }),
        expect.objectContaining({
          stream: "system",
          text: expect.stringMatching(/^running task add/) as string,
        }),
      ]),
    );
    expect(calls.logs.every((line) => !Number.isNaN(Date.parse(line.at)))).toBe(true);
    // The agent's own (pino) logs are not the task's output.
    expect(calls.logs.some((line) => line.text.includes('"level"'))).toBe(false);
    expect([calls.inlineOutputs, calls.uploads]).toEqual([1, 0]);
  });

  it("takes the inputs the assignment carries, reading no blob; an assignment without them is read from its URL", async () => {
    const endpoint = await plane.listen();
    plane.state.inputs = { a: 100, b: 100 };
    const { inputsUrl: _fetched, ...carried } = assignmentFor("add");
    plane.state.assignment = { ...carried, inputs: { a: 2, b: 5 } };
    expect(await runOneAttempt(configFor(endpoint), { logger: testLogger() })).toBe(
      EXIT_CODES.succeeded,
    );
    expect(plane.state.outputs.get("att-1")?.toString()).toBe('{"sum":7,"doubled":4}');
    expect(plane.state.calls.inputReads).toBe(0);

    plane.state.assignment = assignmentFor("add", "att-2");
    expect(await runOneAttempt(configFor(endpoint), { logger: testLogger() })).toBe(
      EXIT_CODES.succeeded,
    );
    expect(plane.state.outputs.get("att-2")?.toString()).toBe('{"sum":200,"doubled":200}');
    expect(plane.state.calls.inputReads).toBe(1);
  });

  it("uploads an output over INLINE_JSON_BYTES before it reports the attempt complete", async () => {
    plane.state.assignment = assignmentFor("big");
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.succeeded);
    const { calls, outputs } = plane.state;
    expect([calls.inlineOutputs, calls.uploads]).toEqual([0, 1]);
    expect(outputs.get("att-1")?.length).toBeGreaterThan(INLINE_JSON_BYTES);
    expect(calls.complete).toHaveLength(1);
  });

  it("runs a task that only an exported workflow refers to", async () => {
    plane.state.assignment = assignmentFor("hidden");
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.succeeded);
    expect(plane.state.outputs.get("att-1")?.toString()).toBe('"from workflow"');
  });

  it("runs a task that opens no IDE from the bundle's compiled entry, without tsx", async () => {
    plane.state.assignment = assignmentFor("loaded_from");
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.succeeded);
    expect(plane.state.outputs.get("att-1")?.toString()).toBe('"tasks.drydock.mjs"');
  });

  it("reports a throwing task with its message and stack and exits 1", async () => {
    plane.state.assignment = assignmentFor("boom");
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });

    expect(code).toBe(EXIT_CODES.taskFailed);
    const { calls, outputs } = plane.state;
    expect(calls.complete).toEqual([]);
    expect(outputs.size).toBe(0);
    expect(calls.fail).toHaveLength(1);
    expect(calls.fail[0]).toMatchObject({ message: "kaboom", name: "TypeError" });
    expect(calls.fail[0]?.stack).toMatch(/TypeError: kaboom\n\s+at .*tasks\.ts/);
    expect(calls.logs.some((l) => l.stream === "stderr" && l.text === "TypeError: kaboom")).toBe(
      true,
    );
  });

  it("delivers the task's log, its last line included, before it reports the end (an ended attempt takes no more)", async () => {
    const endpoint = await plane.listen();
    plane.state.inputs = { a: 1, b: 1 };
    expect(await runOneAttempt(configFor(endpoint), { logger: testLogger() })).toBe(
      EXIT_CODES.succeeded,
    );
    expect(plane.state.calls.linesAtEnd).toEqual(
      expect.arrayContaining(["adding 1 and 1", "task add succeeded"]),
    );

    plane.state.calls.linesAtEnd = undefined;
    plane.state.assignment = assignmentFor("boom");
    expect(await runOneAttempt(configFor(endpoint), { logger: testLogger() })).toBe(
      EXIT_CODES.taskFailed,
    );
    expect(plane.state.calls.linesAtEnd).toEqual(
      expect.arrayContaining([
        "TypeError: kaboom",
        expect.stringMatching(/^task boom failed: kaboom/),
      ]),
    );
  });

  it("fails the attempt saying why when the server refuses its output, rather than exiting unexplained", async () => {
    plane.state.inputs = { a: 1, b: 2 };
    plane.state.completeError = new AppError(
      "OUTPUTS_OVER_LIMIT",
      "BAD_REQUEST",
      "outputs nest deeper than 100 levels of arrays and objects (the limit is 100)",
    );
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.platformFailed);
    expect(plane.state.calls.complete).toHaveLength(1);
    expect(plane.state.calls.fail).toEqual([
      expect.objectContaining({
        code: AGENT_ERROR_CODES.outputRefused,
        message: expect.stringMatching(
          /^the server refused the task's output: .*the limit is 100/,
        ) as string,
      }),
    ]);
  });

  it("reports a failure the server refused once more, shortened and escaped, so the attempt still fails as itself", async () => {
    plane.state.assignment = assignmentFor("boom");
    plane.state.failErrors = [
      new AppError("VALUE_REFUSED", "BAD_REQUEST", "the store cannot keep a value of this request"),
    ];
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.fail).toEqual([
      expect.objectContaining({ message: "kaboom" }),
      expect.objectContaining({
        code: AGENT_ERROR_CODES.reportRefused,
        name: "TypeError",
        message:
          'the task failed, but the server refused its error report (the store cannot keep a value of this request); the error began: "kaboom"',
      }),
    ]);
  });

  it("reports a thrown non-Error as a string", async () => {
    plane.state.assignment = assignmentFor("throws_string");
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.fail[0]).toMatchObject({
      message: "non-Error thrown: plain string",
      name: "string",
    });
  });

  it("fails with TASK_NOT_FOUND naming the task and the entry", async () => {
    plane.state.assignment = assignmentFor("missing_task");
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.fail[0]).toMatchObject({
      code: AGENT_ERROR_CODES.taskNotFound,
      message: expect.stringMatching(
        /"missing_task" is not defined in tasks\.ts \(it defines add, big, boom, hidden, loaded_from, sleepy, throws_string\)/,
      ) as string,
    });
  });

  it("fails with AGENT_SETUP_FAILED when the bundle does not match its sha256", async () => {
    plane.state.bundles.set(bundle.sha256, Buffer.from("not the bundle"));
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.platformFailed);
    expect(plane.state.calls.fail[0]).toMatchObject({
      code: AGENT_ERROR_CODES.setupFailed,
      message: expect.stringMatching(/could not fetch the code bundle .*sha256/) as string,
    });
    expect(existsSync(join(cacheDir, "bundles", bundle.sha256))).toBe(false);
  });

  it("stops a running task when the heartbeat answers proceed: false", async () => {
    plane.state.assignment = assignmentFor("sleepy");
    const endpoint = await plane.listen();
    const running = runOneAttempt(configFor(endpoint), { logger: testLogger() });

    await vi.waitFor(
      () => expect(plane.state.calls.logs.some((l) => l.text === "sleeping")).toBe(true),
      { timeout: 10_000 },
    );
    const beatsBefore = plane.state.calls.heartbeats;
    plane.state.heartbeatProceed = false;

    expect(await running).toBe(EXIT_CODES.stopped);
    expect(plane.state.calls.heartbeats).toBeGreaterThan(beatsBefore);
    expect(plane.state.calls.complete).toEqual([]);
    expect(plane.state.calls.fail).toEqual([]);
    expect(
      plane.state.calls.logs.some(
        (l) => l.stream === "system" && l.text.startsWith("attempt stopped: the server asked"),
      ),
    ).toBe(true);
  });

  it("ends promptly when its signal is aborted (SIGTERM)", async () => {
    plane.state.assignment = assignmentFor("sleepy");
    const terminate = new AbortController();
    const running = runOneAttempt(configFor(await plane.listen()), {
      logger: testLogger(),
      signal: terminate.signal,
    });
    await vi.waitFor(
      () => expect(plane.state.calls.logs.some((l) => l.text === "sleeping")).toBe(true),
      { timeout: 10_000 },
    );
    terminate.abort();
    expect(await running).toBe(EXIT_CODES.terminated);
  });

  it("waits for a server that is briefly unreachable, then carries on", async () => {
    const endpoint = await plane.listen();
    const port = Number(new URL(endpoint).port);
    await plane.close();
    plane.state.inputs = { a: 1, b: 1 };

    const running = runOneAttempt(configFor(endpoint), { logger: testLogger() });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(plane.state.calls.assignment).toBe(0);
    await plane.listen(port);

    expect(await running).toBe(EXIT_CODES.succeeded);
    expect(plane.state.calls.complete).toHaveLength(1);
    expect(
      warnings.some((w) => w.includes("assignment: the server is unreachable, retrying")),
    ).toBe(true);
  });

  it("does not retry an error the server answered", async () => {
    plane.state.startedError = new AppError(
      "ATTEMPT_ALREADY_STARTED",
      "CONFLICT",
      "this attempt already has an agent",
    );
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.platformFailed);
    expect(plane.state.calls.started).toHaveLength(1);
    expect(warnings.some((w) => w.includes("this attempt already has an agent"))).toBe(true);
  });

  it("reuses a cached bundle on the next attempt", async () => {
    const endpoint = await plane.listen();
    plane.state.inputs = { a: 1, b: 2 };
    expect(await runOneAttempt(configFor(endpoint), { logger: testLogger() })).toBe(
      EXIT_CODES.succeeded,
    );

    plane.state.assignment = assignmentFor("add", "att-2");
    expect(await runOneAttempt(configFor(endpoint), { logger: testLogger() })).toBe(
      EXIT_CODES.succeeded,
    );

    expect(plane.state.calls.bundleDownloads).toBe(1);
    expect(plane.state.calls.complete).toHaveLength(2);
    expect(await readdir(join(cacheDir, "bundles"))).toEqual([bundle.sha256]);
  });

  it("reports a conflicting stored output as an upload failure", async () => {
    // Only an output over INLINE_JSON_BYTES is uploaded.
    plane.state.assignment = assignmentFor("big");
    plane.state.outputs.set("att-1", Buffer.from('{"text":"another"}'));
    const code = await runOneAttempt(configFor(await plane.listen()), { logger: testLogger() });
    expect(code).toBe(EXIT_CODES.platformFailed);
    expect(plane.state.calls.complete).toEqual([]);
    expect(plane.state.calls.fail[0]).toMatchObject({
      code: AGENT_ERROR_CODES.outputUploadFailed,
      message: expect.stringMatching(/different output .*409/) as string,
    });
  });

  // Runs once the SDK is built (the root `pnpm test` builds first): the real SDK's task entity, shipped in the bundle.
});

describe("serveAttempts (a warm agent)", () => {
  it("runs each attempt the server hands over in the same process, downloading and importing the bundle once", async () => {
    const endpoint = await plane.listen();
    plane.state.inputs = { a: 2, b: 3 };
    plane.state.handOver = [assignmentFor("add", "att-2"), assignmentFor("add", "att-3")];

    const code = await serveAttempts(configFor(endpoint), { logger: testLogger() });

    expect(code).toBe(EXIT_CODES.succeeded);
    const { calls, outputs } = plane.state;
    expect([...outputs.keys()]).toEqual(["att-1", "att-2", "att-3"]);
    expect(calls.complete).toHaveLength(3);
    // Handed-over attempts come assigned and started: only the first asks.
    expect(calls.assignment).toBe(1);
    expect(calls.started).toHaveLength(1);
    // Asked for more with each success's report (not in agent.next calls of their own); the third ask found
    // none and the agent ended.
    expect(calls.next).toBe(3);
    expect(calls.nextCalls).toBe(0);
    expect(calls.bundleDownloads).toBe(1);
  });

  it("asks agent.next for its next attempt after a task failed", async () => {
    const endpoint = await plane.listen();
    plane.state.assignment = assignmentFor("boom");
    plane.state.inputs = { a: 2, b: 3 };
    plane.state.handOver = [assignmentFor("add", "att-2")];

    const code = await serveAttempts(configFor(endpoint), { logger: testLogger() });

    expect(code).toBe(EXIT_CODES.succeeded);
    const { calls, outputs } = plane.state;
    expect(calls.fail).toHaveLength(1);
    expect([...outputs.keys()]).toEqual(["att-2"]);
    // After the failure agent.next handed over att-2; its success's report asked again and found none.
    expect([calls.nextCalls, calls.next]).toEqual([1, 2]);
  });

  it("stops handing over after a platform failure", async () => {
    const endpoint = await plane.listen();
    plane.state.handOver = [assignmentFor("add", "att-2")];
    plane.state.bundles.clear();

    const code = await serveAttempts(configFor(endpoint), { logger: testLogger() });

    expect(code).toBe(EXIT_CODES.platformFailed);
    expect(plane.state.calls.next).toBe(0);
  });
});

/** The attempt's private directories in the temp dir: a session's, a paused task's. */
const privateDirs = async () =>
  new Set(
    (await readdir(tmpdir())).filter(
      (name) => name.startsWith("drydock-session-") || name.startsWith("drydock-paused-"),
    ),
  );
/** Command lines of this test's processes still running: code-server (from its cache) and paused-task runners. */
async function processesLike(needle: (cmdline: string, cwd: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
    if (needle(cmdline, cwd)) found.push(cmdline);
  }
  return found;
}
const codeServers = () =>
  processesLike((cmdline) => cmdline.includes("code-server") && cmdline.includes(cacheDir));
/** A runner works in its bundle, in this test's cache. */
const pausedRunners = () =>
  processesLike((cmdline, cwd) => cmdline.includes("paused-runner") && cwd.startsWith(cacheDir));
/** A port nobody listens on: the relay is away, so sessions wait for it only REACHABLE_FALLBACK_MS. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
const systemLine = (prefix: string) =>
  plane.state.calls.logs.find((line) => line.stream === "system" && line.text.startsWith(prefix))
    ?.text;
/** The session's workspace, once the agent laid it out. */
const sessionWorkspace = () =>
  vi.waitFor(
    () => {
      const line = systemLine("VS Code workspace: ");
      if (!line) throw new Error("no workspace yet");
      return line.slice("VS Code workspace: ".length);
    },
    { timeout: 30_000 },
  );
const runScript = promisify(execFile);

describe("an interactive task", () => {
  const sessionDirs = privateDirs;

  it("whose task is missing from the bundle ends the IDE it started early: failed, with no code-server or session directory left", async () => {
    // No preExecute and no runTaskFirst: code-server starts before the module is loaded and the task looked up.
    plane.state.relayUrl = `http://127.0.0.1:${await closedPort()}`;
    plane.state.assignment = {
      ...assignmentFor("not_in_the_bundle"),
      task: {
        ...assignmentFor("not_in_the_bundle").task,
        interactive: {
          enable: true,
          maxIdleSeconds: 600,
          runTaskFirst: false,
          preExecute: false,
          extensions: [],
        },
      },
    };
    const endpoint = await plane.listen();
    const before = await sessionDirs();

    const code = await runOneAttempt(configFor(endpoint, { heartbeatMs: 500 }), {
      logger: testLogger(),
    });

    expect(code).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.openSession).toHaveLength(1);
    expect(plane.state.calls.fail).toEqual([
      expect.objectContaining({ code: AGENT_ERROR_CODES.taskNotFound }),
    ]);
    expect(plane.state.calls.endSession).toEqual([{ reason: "failed" }]);
    expect(plane.state.calls.logs.some((line) => line.text.startsWith("code-server started"))).toBe(
      true,
    );
    expect(await codeServers()).toEqual([]);
    expect([...(await sessionDirs())].filter((dir) => !before.has(dir))).toEqual([]);
  }, 60_000);

  it("is resumed by the workspace's resume script: code-server stops, the task runs from the workspace and its output is stored", async () => {
    plane.state.relayUrl = `http://127.0.0.1:${await closedPort()}`;
    plane.state.assignment = {
      ...assignmentFor("add"),
      task: {
        ...assignmentFor("add").task,
        interactive: {
          enable: true,
          maxIdleSeconds: 600,
          runTaskFirst: false,
          preExecute: false,
          extensions: [],
        },
      },
    };
    const endpoint = await plane.listen();
    const running = runOneAttempt(configFor(endpoint, { heartbeatMs: 500 }), {
      logger: testLogger(),
    });
    const workspace = await sessionWorkspace();
    await vi.waitFor(() => expect(systemLine("code-server started")).toBeDefined(), {
      timeout: 30_000,
    });

    const run = runScript;
    const debugged = await run(
      process.execPath,
      [join(workspace, "drydock_interactive_entrypoint.mjs")],
      { cwd: workspace },
    );
    expect(debugged.stdout).toContain("add returned");
    // By hand from another shell: the socket and the token come from the session's files.
    const resumed = await run(
      process.execPath,
      [join(workspace, "drydock_resume_task.mjs"), "--yes"],
      { cwd: workspace, env: { PATH: process.env.PATH ?? "" } },
    );
    expect(resumed.stdout).toContain("resuming");

    expect(await running).toBe(EXIT_CODES.succeeded);
    expect(systemLine("code-server stopped")).toBe(
      "code-server stopped (resume asked for by the IDE)",
    );
    expect(plane.state.calls.endSession).toEqual([
      { reason: "resumed", resume: { choice: "edited", by: "the IDE" } },
    ]);
    expect(plane.state.calls.complete).toHaveLength(1);
    expect(await codeServers()).toEqual([]);
    expect(existsSync(workspace)).toBe(false);
  }, 60_000);
});

/** An assignment of a fixture task with `vscode(...)` options (the defaults, then `options`). */
function interactiveAssignment(
  taskName: string,
  options: Partial<InteractiveConfig> = {},
): AttemptAssignment {
  const assignment = assignmentFor(taskName);
  return {
    ...assignment,
    task: {
      ...assignment.task,
      interactive: {
        enable: true,
        maxIdleSeconds: 600,
        runTaskFirst: false,
        preExecute: false,
        extensions: [],
        ...options,
      },
    },
  };
}

/** A minimal debugger on a paused task's inspector socket, as VS Code's attach configuration connects. */
async function attachDebugger(websocketAddress: string) {
  const ws = new WebSocket(websocketAddress);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const replies = new Map<number, (result: unknown) => void>();
  const paused: { callFrames: { callFrameId: string }[] }[] = [];
  ws.on("message", (data) => {
    const message = JSON.parse((data as Buffer).toString("utf8")) as {
      id?: number;
      method?: string;
      params?: unknown;
      result?: unknown;
    };
    if (message.id !== undefined) replies.get(message.id)?.(message.result);
    else if (message.method === "Debugger.paused")
      paused.push(message.params as (typeof paused)[number]);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      replies.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  // A task that ends as soon as it is resumed may take its process, and the socket, with it before the reply.
  ws.once("close", () => replies.forEach((resolve) => resolve(undefined)));
  await send("Debugger.enable");
  const frame = await vi.waitFor(
    () => {
      const callFrameId = paused[0]?.callFrames[0]?.callFrameId;
      if (!callFrameId) throw new Error("not paused yet");
      return callFrameId;
    },
    { timeout: 10_000 },
  );
  return {
    evaluate: async (expression: string) =>
      (
        (await send("Debugger.evaluateOnCallFrame", { callFrameId: frame, expression })) as {
          result: { value: unknown };
        }
      ).result.value,
    resume: () => send("Debugger.resume"),
    close: () => ws.close(),
  };
}

/** The attach configuration the session's launch.json holds. */
async function attachConfiguration(workspace: string): Promise<{ websocketAddress: string }> {
  const launch = JSON.parse(await readFile(join(workspace, ".vscode", "launch.json"), "utf8")) as {
    configurations: { name: string; websocketAddress: string }[];
  };
  const attach = launch.configurations.find((c) => c.name === LAUNCH_NAMES.attach);
  if (!attach) throw new Error("no attach configuration");
  return attach;
}

describe("a task that pauses (onFailure: pause, or a pause point)", () => {
  let before: Set<string>;
  beforeEach(async () => {
    plane.state.relayUrl = `http://127.0.0.1:${await closedPort()}`;
    before = await privateDirs();
  });
  /** Whatever the end: no code-server, no paused task's process, no private directory left. */
  const expectNothingLeft = async () => {
    expect(await codeServers()).toEqual([]);
    expect(await pausedRunners()).toEqual([]);
    expect([...(await privateDirs())].filter((dir) => !before.has(dir))).toEqual([]);
  };
  const startAttempt = async () =>
    runOneAttempt(configFor(await plane.listen(), { heartbeatMs: 300 }), {
      logger: testLogger(),
    });

  it("runs a task that succeeds in its own process to its output, with no session", async () => {
    plane.state.assignment = interactiveAssignment("add", { onFailure: "pause" });
    plane.state.inputs = { a: 2, b: 3 };

    expect(await startAttempt()).toBe(EXIT_CODES.succeeded);
    expect(plane.state.outputs.get("att-1")?.toString()).toBe(
      JSON.stringify({ sum: 5, doubled: 4 }),
    );
    expect(plane.state.calls.openSession).toEqual([]);
    // The task's own output reaches its log from its process.
    expect(plane.state.calls.logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stream: "stdout", text: "adding 2 and 3" }),
      ]),
    );
    await expectNothingLeft();
  }, 30_000);

  it("opens the session on a task paused at its throw; ended as failed in the IDE, the attempt fails with the original error and stack", async () => {
    plane.state.assignment = interactiveAssignment("boom", { onFailure: "pause" });
    const running = startAttempt();
    const workspace = await sessionWorkspace();

    const line = fixtureLine('throw new TypeError("kaboom")');
    expect(plane.state.calls.openSession).toEqual([
      {
        maxIdleSeconds: 600,
        maxUnopenedSeconds: 150,
        pause: expect.objectContaining({
          reason: "exception",
          file: "tasks.ts",
          line,
          message: "kaboom",
          name: "TypeError",
        }) as unknown,
      },
    ]);
    expect(systemLine("task boom threw")).toBe(
      `task boom threw: paused at tasks.ts:${line}: kaboom; opening VS Code on the paused process (onFailure: pause)`,
    );
    expect((await attachConfiguration(workspace)).websocketAddress).toMatch(
      /^ws\+unix:\/.*\/inspector\.sock:\/$/,
    );
    await vi.waitFor(() => expect(systemLine("code-server started")).toBeDefined(), {
      timeout: 30_000,
    });

    const ended = await runScript(
      process.execPath,
      [join(workspace, "drydock_resume_task.mjs"), "--fail", "--yes"],
      {
        cwd: workspace,
        env: { PATH: process.env.PATH ?? "" },
      },
    );
    expect(ended.stdout).toContain("ending the task as failed");

    expect(await running).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.fail).toEqual([
      expect.objectContaining({ message: "kaboom", name: "TypeError", code: RESUME_FAIL_CODE }),
    ]);
    expect(plane.state.calls.fail[0]?.stack).toMatch(/TypeError: kaboom\n\s+at .*tasks\.ts/);
    expect(plane.state.calls.endSession).toEqual([
      { reason: "resumed", resume: { choice: "fail", by: "the IDE" } },
    ]);
    expect(plane.state.calls.complete).toEqual([]);
    await expectNothingLeft();
  }, 60_000);

  it("keeps the session open, and its pause, when the paused throw is continued in the debugger, and runs the original code again from the IDE with the original error", async () => {
    plane.state.assignment = interactiveAssignment("boom", { onFailure: "pause" });
    const running = startAttempt();
    const workspace = await sessionWorkspace();
    const debug = await attachDebugger((await attachConfiguration(workspace)).websocketAddress);
    await debug.resume();
    // The error went on and ended the task's process; the session stays, its pause kept as where it threw.
    await vi.waitFor(
      () => expect(systemLine("task boom ran on from the debugger and failed")).toBeDefined(),
      {
        timeout: 10_000,
      },
    );
    expect(plane.state.calls.updateSession.filter((u) => "pause" in u)).toEqual([]);
    debug.close();
    expect(plane.state.calls.endSession).toEqual([]);
    await vi.waitFor(() => expect(systemLine("code-server started")).toBeDefined(), {
      timeout: 30_000,
    });

    await runScript(
      process.execPath,
      [join(workspace, "drydock_resume_task.mjs"), "--original", "--yes"],
      {
        cwd: workspace,
        env: { PATH: process.env.PATH ?? "" },
      },
    );
    expect(await running).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.fail).toEqual([
      expect.objectContaining({ message: "kaboom", name: "TypeError", code: RESUME_ORIGINAL_CODE }),
    ]);
    expect(plane.state.calls.endSession).toEqual([
      { reason: "resumed", resume: { choice: "original", by: "the IDE" } },
    ]);
    await expectNothingLeft();
  }, 60_000);

  it("ends the attempt with the original error for a new attempt when the console or CLI asks for the original code", async () => {
    plane.state.assignment = interactiveAssignment("boom", { onFailure: "pause" });
    plane.state.sessionAnswer = {
      idleRemainingMs: 60_000,
      idleDeadline: new Date(Date.now() + 60_000).toISOString(),
      limit: "unopened",
      resumeRequested: true,
      resumeChoice: "original",
    };

    expect(await startAttempt()).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.fail).toEqual([
      expect.objectContaining({ message: "kaboom", name: "TypeError", code: RESUME_ORIGINAL_CODE }),
    ]);
    // The server recorded who asked; the agent does not say it again.
    expect(plane.state.calls.endSession).toEqual([{ reason: "resumed" }]);
    expect(systemLine("code-server stopped")).toBe(
      "code-server stopped (resume (original) asked for by a user (console or CLI))",
    );
    await expectNothingLeft();
  }, 60_000);

  it("holds a pause point before the task runs with its inputs loaded; continued in the debugger, its output is stored", async () => {
    plane.state.assignment = { ...interactiveAssignment("add"), pauseBefore: true };
    plane.state.inputs = { a: 4, b: 5 };
    const running = startAttempt();
    const workspace = await sessionWorkspace();

    expect(plane.state.calls.openSession).toEqual([
      expect.objectContaining({
        pause: expect.objectContaining({
          reason: "before",
          file: "tasks.ts",
          line: fixtureLine("console.log(`adding"),
        }) as unknown,
      }),
    ]);
    expect(systemLine("task add is held")).toBe(
      "task add is held before it runs (pause point); opening VS Code",
    );
    const debug = await attachDebugger((await attachConfiguration(workspace)).websocketAddress);
    expect(await debug.evaluate("a + b")).toBe(9);
    await debug.resume();

    expect(await running).toBe(EXIT_CODES.succeeded);
    debug.close();
    expect(plane.state.outputs.get("att-1")?.toString()).toBe(
      JSON.stringify({ sum: 9, doubled: 8 }),
    );
    expect(plane.state.calls.endSession).toEqual([
      { reason: "resumed", resume: { choice: "continued", by: "the debugger" } },
    ]);
    await expectNothingLeft();
  }, 60_000);

  it("runs a held task's registered code when the IDE resumes it with the original code", async () => {
    plane.state.assignment = { ...interactiveAssignment("add"), pauseBefore: true };
    plane.state.inputs = { a: 1, b: 2 };
    const running = startAttempt();
    const workspace = await sessionWorkspace();
    await vi.waitFor(() => expect(systemLine("code-server started")).toBeDefined(), {
      timeout: 30_000,
    });
    await runScript(
      process.execPath,
      [join(workspace, "drydock_resume_task.mjs"), "--original", "--yes"],
      {
        cwd: workspace,
        env: { PATH: process.env.PATH ?? "" },
      },
    );

    expect(await running).toBe(EXIT_CODES.succeeded);
    expect(plane.state.outputs.get("att-1")?.toString()).toBe(
      JSON.stringify({ sum: 3, doubled: 2 }),
    );
    expect(plane.state.calls.endSession).toEqual([
      { reason: "resumed", resume: { choice: "original", by: "the IDE" } },
    ]);
    await expectNothingLeft();
  }, 60_000);

  it("ends a pause point's session nobody opened under the unopened limit, a task that is not interactive getting the default limits", async () => {
    plane.state.assignment = { ...assignmentFor("add"), pauseBefore: true };
    plane.state.sessionAnswer = {
      idleRemainingMs: 0,
      idleDeadline: new Date().toISOString(),
      limit: "unopened",
      resumeRequested: false,
    };

    expect(await startAttempt()).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.openSession).toEqual([
      expect.objectContaining({ maxIdleSeconds: 36_000, maxUnopenedSeconds: 9_000 }),
    ]);
    expect(plane.state.calls.fail).toEqual([
      {
        message:
          "the interactive session of task add ended after 9000 s without being opened (maxUnopenedSeconds); the task did not run to completion",
        name: "SessionUnopenedError",
        code: SESSION_UNOPENED_CODE,
      },
    ]);
    expect(plane.state.calls.endSession).toEqual([{ reason: "unopened" }]);
    expect(systemLine("code-server stopped")).toBe(
      "code-server stopped (nobody opened it within 9000 s)",
    );
    expect(plane.state.outputs.size).toBe(0);
    await expectNothingLeft();
  }, 60_000);
});
