/**
 * Interactive tasks end to end: `drydock up`, real agents, a real code-server reached through
 * the relay by Chromium, the generated entrypoint under the Node inspector, edits, resume, idle, hooks,
 * runTaskFirst, `drydock debug` and `drydock changes`.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";

import type { ExecutionDetail, InteractiveSession } from "@drydock/contracts";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  drydock,
  fixture,
  launchChromium,
  processTable,
  removeStack,
  startStack,
  waitFor,
} from "./harness.js";
import type { Stack } from "./harness.js";
import { breakOnTsLine } from "./inspector.js";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (stack) await removeStack(stack);
});

async function launch(
  file: string,
  workflow: string,
  inputs: string[] = [],
  env: Record<string, string> = {},
): Promise<string> {
  const result = await drydock(["run", "--remote", fixture(file), workflow, ...inputs], {
    ...stack.env,
    ...env,
  });
  expect(result.code, result.stderr).toBe(0);
  const id = (result.stdout + result.stderr).match(/execution (x[a-z0-9]+) started/)?.[1];
  if (!id) throw new Error(`no execution id in:\n${result.stdout}\n${result.stderr}`);
  return id;
}

const detail = (id: string) => stack.api.executions.get.query({ id });
const nodeOf = (d: ExecutionDetail, nodeId: string) => d.nodes.find((n) => n.nodeId === nodeId);

/** The node's latest attempt's session once it is in `state`. */
function sessionIn(
  id: string,
  nodeId: string,
  state: InteractiveSession["state"],
  timeoutMs = 90_000,
): Promise<InteractiveSession> {
  return waitFor(
    `node ${nodeId} of ${id} to have a ${state} session`,
    async () => {
      const d = await detail(id);
      const session = nodeOf(d, nodeId)?.attempts.at(-1)?.session;
      if (session?.state === state) return session;
      if (d.execution.status !== "RUNNING")
        throw new Error(
          `execution ${id} ended ${d.execution.status}: ${JSON.stringify(d.execution.error)}`,
        );
      return undefined;
    },
    timeoutMs,
  );
}

function ended(id: string, timeoutMs = 90_000): Promise<ExecutionDetail> {
  return waitFor(
    `execution ${id} to end`,
    async () => {
      const d = await detail(id);
      return d.execution.status === "RUNNING" ? undefined : d;
    },
    timeoutMs,
  );
}

async function attemptLog(id: string, nodeId: string): Promise<string> {
  const attempt = nodeOf(await detail(id), nodeId)?.attempts.at(-1);
  if (!attempt) return "";
  return (await stack.api.executions.logs.query({ attemptId: attempt.id })).text;
}

/** The workspace the agent laid out, as it says in the task log. */
function workspaceOf(id: string, nodeId: string): Promise<string> {
  return waitFor(
    `the workspace of ${nodeId}`,
    async () => (await attemptLog(id, nodeId)).match(/VS Code workspace: (\S+)/)?.[1],
  );
}

const codeServers = async () =>
  (await processTable()).filter((p) => p.cmdline.includes("code-server"));

/** Runs the command `Interactive Debugging` runs, as launch.json says. */
async function launchConfig(
  workspace: string,
  name: string,
): Promise<{ runtimeExecutable: string; program: string }> {
  const launchJson = JSON.parse(
    await readFile(join(workspace, ".vscode", "launch.json"), "utf8"),
  ) as {
    configurations: { name: string; runtimeExecutable: string; program: string }[];
  };
  const config = launchJson.configurations.find((c) => c.name === name);
  if (!config) throw new Error(`no launch configuration "${name}"`);
  return {
    runtimeExecutable: config.runtimeExecutable,
    program: config.program.replace("${workspaceFolder}", workspace),
  };
}

function run(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("an interactive task in the middle of a pipeline", () => {
  let id: string;
  let workspace: string;

  beforeAll(async () => {
    id = await launch("interactive/pipeline.ts", "interactive_pipeline");
  });

  it("becomes READY only once its IDE answers, and the link loads the workbench through the relay", async () => {
    const session = await sessionIn(id, "n1", "READY");
    expect(session.link).toMatch(new RegExp(`^http://${session.id}\\.localhost:\\d+/$`));
    expect(nodeOf(await detail(id), "n0")?.outputs).toBe(21);

    const ticket = await stack.api.sessions.ideTicket.mutate({ sessionId: session.id });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(ticket.url);
    await page.waitForSelector(".monaco-workbench", { timeout: 90_000 });
    // The explorer shows the task's own source file: the workspace is the task's code.
    await page.waitForSelector(".explorer-folders-view >> text=pipeline.ts", { timeout: 60_000 });
    expect(await page.locator("text=/Cannot reconnect|connection.*lost/i").count()).toBe(0);
    await context.close();
  });

  it("lays out the sources, the two generated scripts and launch.json with the two exact names", async () => {
    workspace = await workspaceOf(id, "n1");
    expect(await readFile(join(workspace, "pipeline.ts"), "utf8")).toContain("x * 2; // EDIT ME");
    expect(await readFile(join(workspace, "drydock_interactive_entrypoint.mjs"), "utf8")).toContain(
      'Generated by Drydock for task "double"',
    );
    const values = JSON.parse(
      await readFile(join(workspace, ".drydock", "session.json"), "utf8"),
    ) as { task: string };
    expect(values.task).toBe("double");
    expect(await readFile(join(workspace, "drydock_resume_task.mjs"), "utf8")).toContain("[y/N]");
    const launchJson = JSON.parse(
      await readFile(join(workspace, ".vscode", "launch.json"), "utf8"),
    ) as { configurations: { name: string }[] };
    expect(launchJson.configurations.map((c) => c.name)).toEqual([
      "Interactive Debugging",
      "Resume Task",
    ]);
    const settings = JSON.parse(
      await readFile(join(workspace, ".vscode", "settings.json"), "utf8"),
    ) as Record<string, unknown>;
    expect(settings).toMatchObject({
      "security.workspace.trust.enabled": false,
      "remote.autoForwardPorts": false,
      "workbench.startupEditor": "none",
    });
  });

  it("Interactive Debugging prints the result from the upstream's real output, writes nothing, and can run again", async () => {
    const { runtimeExecutable, program } = await launchConfig(workspace, "Interactive Debugging");
    for (let i = 0; i < 2; i++) {
      const result = await run(runtimeExecutable, [program], workspace);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("double returned 42");
    }
    const node = nodeOf(await detail(id), "n1");
    expect(node?.status).toBe("RUNNING");
    expect(node?.outputs).toBeUndefined();
  });

  it("stops on a breakpoint on a line of the task's .ts file, with the real input in scope", async () => {
    const { runtimeExecutable, program } = await launchConfig(workspace, "Interactive Debugging");
    const source = await readFile(join(workspace, "pipeline.ts"), "utf8");
    const line =
      source.split("\n").findIndex((l) => l.includes("const result = x * 2; // EDIT ME")) + 1;
    const child = spawn(runtimeExecutable, ["--inspect-brk=127.0.0.1:0", program], {
      cwd: workspace,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const wsUrl = await waitFor(
      "the inspector URL",
      async () => stderr.match(/Debugger listening on (ws:\/\/\S+)/)?.[1],
      30_000,
    );
    const hit = await breakOnTsLine(wsUrl, "pipeline.ts", line, "x");
    expect(hit).toEqual({ line, value: 21 });
    await once(child, "close");
    expect(stdout).toContain("double returned 42");
  });

  it("resumes with the edited source: its result goes downstream, the execution SUCCEEDS, no code-server remains", async () => {
    const path = join(workspace, "pipeline.ts");
    await writeFile(
      path,
      (await readFile(path, "utf8")).replace("x * 2; // EDIT ME", "x * 3; // EDIT ME"),
    );
    const { runtimeExecutable, program } = await launchConfig(workspace, "Resume Task");
    const resumed = await run(runtimeExecutable, [program, "--yes"], workspace);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resuming/);

    const d = await ended(id);
    expect(d.execution.status).toBe("SUCCEEDED");
    expect(nodeOf(d, "n1")?.outputs).toBe(63);
    expect(d.execution.result).toBe("the answer is 63");
    expect(nodeOf(d, "n1")?.attempts.at(-1)?.session).toMatchObject({
      state: "ENDED",
      endReason: "resumed",
    });
    expect(await codeServers()).toEqual([]);
    expect(existsSync(dirname(workspace))).toBe(false);
  });

  it("drydock changes prints the edit as a unified diff against the registered source, after the session ended", async () => {
    const changes = await drydock(["changes", id, "n1"], stack.env);
    expect(changes.code, changes.stderr).toBe(0);
    expect(changes.stdout).toContain("--- a/pipeline.ts\n+++ b/pipeline.ts\n");
    // Only the edit: the bundle's own files (its package.json) are no change.
    expect(changes.stdout.match(/^\+\+\+ /gm)).toHaveLength(1);
    expect(changes.stdout).toContain(
      "-    const result = x * 2; // EDIT ME\n+    const result = x * 3; // EDIT ME\n",
    );
  });

  it("drydock debug re-runs the finished node interactively with the inputs it had, without re-registering", async () => {
    const debug = await drydock(["debug", id, "n1"], stack.env);
    expect(debug.code, debug.stderr).toBe(0);
    const debugId = (debug.stdout + debug.stderr)
      .match(/\b(x[a-z0-9]{6,})\b/g)
      ?.find((x) => x !== id);
    if (!debugId) throw new Error(`no new execution id in:\n${debug.stdout}\n${debug.stderr}`);
    expect((await detail(debugId)).execution.debugOf).toEqual({ executionId: id, nodeId: "n1" });
    await sessionIn(debugId, "n1", "READY");
    const debugWorkspace = await workspaceOf(debugId, "n1");
    expect(
      JSON.parse(await readFile(join(debugWorkspace, ".drydock", "inputs.json"), "utf8")),
    ).toEqual({ x: 21 });
    // The registered sources, not the edits of the earlier session.
    expect(await readFile(join(debugWorkspace, "pipeline.ts"), "utf8")).toContain(
      "x * 2; // EDIT ME",
    );

    const resume = await drydock(["resume", debugId, "n1", "--yes"], stack.env);
    expect(resume.code, resume.stderr).toBe(0);
    const d = await ended(debugId);
    expect(d.execution.status).toBe("SUCCEEDED");
    expect(d.execution.result).toBe(42);
    expect(await codeServers()).toEqual([]);
  });
});

describe("idle sessions, hooks and extensions", () => {
  it("ends unopened after maxUnopenedSeconds (here maxIdleSeconds, 5 s) with no client, runs postExecute after code-server stopped, and a keep-alive postpones it", async () => {
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    const id = await launch("interactive/hooks.ts", "idle_session", [], {
      DRYDOCK_E2E_IDE_PORT: String(port),
    });
    const ready = await sessionIn(id, "n0", "READY");
    // Keep it alive at once (before the checks below, which take a while on a busy machine), then every 2 s until
    // a second past the deadline it had when READY: it is still running then.
    const firstDeadline = Date.parse(ready.idleDeadline ?? "");
    expect(firstDeadline).toBeGreaterThan(Date.now() - 5_000);
    const keepAlive = async () => {
      const kept = await stack.api.sessions.keepAlive.mutate({ executionId: id, nodeId: "n0" });
      expect(Date.parse(kept.idleDeadline ?? "")).toBeGreaterThan(Date.now() + 3_000);
      return Date.now();
    };
    let keptAt = await keepAlive();

    const workspace = await workspaceOf(id, "n0");
    expect(ready.maxIdleSeconds).toBe(5);
    // A broken extension is reported on the session, and the IDE opened regardless.
    expect(ready.extensionProblems).toEqual([
      expect.objectContaining({ extension: "http://127.0.0.1:9/missing.vsix" }),
    ]);
    // With `port`, code-server listens on 127.0.0.1 at that port, and nowhere else.
    const listening = (await readFile("/proc/net/tcp", "utf8"))
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[3] === "0A" && parseInt(f[1]?.split(":")[1] ?? "", 16) === port)
      .map((f) => f[1]?.split(":")[0]);
    expect(listening).toEqual(["0100007F"]);

    while (Date.now() < firstDeadline + 1_000) {
      await new Promise((r) => setTimeout(r, 2_000));
      keptAt = await keepAlive();
    }
    expect((await detail(id)).execution.status).toBe("RUNNING");

    const d = await ended(id, 30_000);
    const endedAfterMs = Date.now() - keptAt;
    expect(d.execution.status).toBe("FAILED");
    const attempt = nodeOf(d, "n0")?.attempts.at(-1);
    // Nobody ever opened it: the unopened limit ended it (a quarter of maxIdleSeconds, at least a minute, at most
    // maxIdleSeconds: here 5 s), and the end reason says so.
    expect(attempt?.error).toMatchObject({ code: "SESSION_UNOPENED" });
    expect(attempt?.error?.message).toMatch(/5 s without being opened \(maxUnopenedSeconds\)/);
    expect(attempt?.session).toMatchObject({
      state: "ENDED",
      endReason: "unopened",
      maxUnopenedSeconds: 5,
    });
    // The limit is 5 s after the last keep-alive, plus a heartbeat or two.
    expect(endedAfterMs).toBeLessThan(5_000 + 8_000);
    expect(nodeOf(d, "n0")?.attempts).toHaveLength(1);
    expect(await codeServers()).toEqual([]);
    await waitFor(
      "the session directory to be removed",
      async () => (existsSync(dirname(workspace)) ? undefined : true),
      10_000,
    );

    const log = await attemptLog(id, "n0");
    const order = [
      "hook: preExecute",
      "code-server started",
      "code-server stopped",
      "hook: postExecute",
    ].map((line) => log.indexOf(line));
    expect(
      order.every((at) => at >= 0),
      log,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe("runTaskFirst", () => {
  it("opens no IDE when the first run succeeds", async () => {
    const id = await launch("interactive/hooks.ts", "run_task_first", ["--n", "16"]);
    const d = await ended(id);
    expect(d.execution.status).toBe("SUCCEEDED");
    expect(d.execution.result).toBe(4);
    expect(nodeOf(d, "n0")?.attempts.at(-1)?.session).toBeUndefined();
  });

  it("opens the IDE with the first run's error when it fails, and resume after a fix succeeds", async () => {
    // `run --remote --wait` follows the run and prints a sign-in link into the IDE once it is READY.
    const waiting = drydock(
      ["run", "--remote", fixture("interactive/hooks.ts"), "run_task_first", "--n", "-9", "--wait"],
      stack.env,
    );
    const id = await waitFor("the execution to start", async () => {
      const [latest] = await stack.api.executions.list.query({
        project: "default",
        workflow: "run_task_first",
        status: "RUNNING",
        limit: 1,
      });
      return latest?.id;
    });
    const session = await sessionIn(id, "n0", "READY");
    expect(session.firstRunError?.message).toBe("cannot take the square root of -9");
    expect(session.firstRunError?.stack).toMatch(
      /RangeError: cannot take the square root of -9\n\s+at .*hooks\.ts:\d+/,
    );
    const workspace = await workspaceOf(id, "n0");
    expect(await readFile(join(workspace, "DRYDOCK_FIRST_RUN_ERROR.txt"), "utf8")).toContain(
      "cannot take the square root of -9",
    );

    const path = join(workspace, "hooks.ts");
    await writeFile(
      path,
      (await readFile(path, "utf8")).replace(
        "if (n < 0) throw",
        "if (n < 0) return Math.sqrt(-n); if (n < 0) throw",
      ),
    );
    const resume = await drydock(["resume", id, "n0", "--yes"], stack.env);
    expect(resume.code, resume.stderr).toBe(0);
    const d = await ended(id);
    expect(d.execution.status).toBe("SUCCEEDED");
    expect(d.execution.result).toBe(3);
    expect(await codeServers()).toEqual([]);
    const followed = await waiting;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stderr).toMatch(
      new RegExp(`IDE ready: http://${session.id}\\.localhost:\\d+/__drydock/redeem\\?ticket=`),
    );
    expect(followed.stdout.trim()).toBe("3");
  });
});
