import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { InteractiveConfigSchema } from "@drydock/contracts";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { EXIT_CODES } from "./attempt/exit-codes.js";
import { newState, TestControlPlane } from "./test/control-plane.js";
import { assignmentFor, fixtureLine, packFixture } from "./test/fixture.js";
import type { FixtureBundle } from "./test/fixture.js";

const mainSource = join(dirname(fileURLToPath(import.meta.url)), "main.ts");
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

let scratch: string;
let bundle: FixtureBundle;
let plane: TestControlPlane;
let endpoint: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "drydock-agent-main-test-"));
  bundle = await packFixture(join(scratch, "project"));
  await rm(join(scratch, "project"), { recursive: true, force: true });
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(async () => {
  plane = new TestControlPlane(
    newState(assignmentFor(bundle, "add"), new Map([[bundle.sha256, bundle.tarball]])),
  );
  endpoint = await plane.listen();
});
afterEach(async () => {
  await plane.close();
});

interface AgentProcess {
  pid: number;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts the agent the way the local-process executor does: its own cwd, configured by the environment. */
async function startAgent(env: Record<string, string> = {}): Promise<AgentProcess> {
  const cwd = await mkdtemp(join(scratch, "attempt-"));
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("DRYDOCK_")),
  );
  const child = spawn(process.execPath, ["--import", tsxLoader, mainSource, "--attempt", "att-1"], {
    cwd,
    env: {
      ...inherited,
      DRYDOCK_ENDPOINT: endpoint,
      DRYDOCK_AGENT_TOKEN: plane.state.token,
      DRYDOCK_CACHE_DIR: join(scratch, "cache"),
      DRYDOCK_HEARTBEAT_MS: "100",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { pid: child.pid ?? -1, exited, kill: (signal) => child.kill(signal) };
}

describe("the agent process", () => {
  it("exits 0 after a successful attempt, writing the task's output through and its own JSON logs to stderr", async () => {
    plane.state.inputs = { a: 2, b: 3 };
    const { code, stdout, stderr } = await (await startAgent()).exited;

    expect(code).toBe(EXIT_CODES.succeeded);
    expect(stdout).toContain("adding 2 and 3");
    const agentLogs = stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg: string; attempt?: string });
    expect(agentLogs.some((l) => l.msg === "task succeeded" && l.attempt === "att-1")).toBe(true);
    expect(plane.state.calls.complete).toHaveLength(1);
    expect(
      plane.state.calls.logs.some((l) => l.stream === "stdout" && l.text === "adding 2 and 3"),
    ).toBe(true);
  });

  it("exits 1 for a failing task, with a stack that points at the task's TypeScript line", async () => {
    plane.state.assignment = assignmentFor(bundle, "boom");
    const { code } = await (await startAgent()).exited;

    expect(code).toBe(EXIT_CODES.taskFailed);
    expect(plane.state.calls.fail[0]?.stack).toContain(
      `tasks.ts:${fixtureLine('throw new TypeError("kaboom")')}:`,
    );
  });

  it("exits 143 promptly on SIGTERM", async () => {
    plane.state.assignment = assignmentFor(bundle, "sleepy");
    const agent = await startAgent();
    await vi.waitFor(
      () => expect(plane.state.calls.logs.some((l) => l.text === "sleeping")).toBe(true),
      { timeout: 15_000 },
    );
    const sentAt = Date.now();
    agent.kill("SIGTERM");

    expect((await agent.exited).code).toBe(EXIT_CODES.terminated);
    expect(Date.now() - sentAt).toBeLessThan(2_500);
    expect(plane.state.calls.complete).toEqual([]);
  });

  describe("told the attempt may pause (DRYDOCK_ATTEMPT_PAUSES=1)", () => {
    /** The agent's paused-task runners: its children running paused-runner.js. */
    const runnersOf = async (agentPid: number) => {
      const found: number[] = [];
      for (const entry of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
        const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
        const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (ppid === agentPid && cmdline.includes("paused-runner.js")) found.push(Number(entry));
      }
      return found;
    };
    const alive = (pids: number[]) =>
      pids.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
    /** Starts the agent with the hint; resolves with the runners it had when it asked for its assignment. */
    async function runWithHint() {
      let atAssignment: number[] | undefined;
      let agentPid = -1;
      plane.state.onAssignment = async () => {
        atAssignment = await runnersOf(agentPid);
      };
      const agent = await startAgent({ DRYDOCK_ATTEMPT_PAUSES: "1" });
      agentPid = agent.pid;
      return { ...(await agent.exited), atAssignment: atAssignment ?? [] };
    }

    it("starts the task's process before it asks for its assignment, runs a task that may pause in it, and leaves none", async () => {
      const add = assignmentFor(bundle, "add");
      plane.state.assignment = {
        ...add,
        task: { ...add.task, interactive: InteractiveConfigSchema.parse({ onFailure: "pause" }) },
      };
      plane.state.inputs = { a: 2, b: 3 };
      const { code, stdout, atAssignment } = await runWithHint();

      expect(code).toBe(EXIT_CODES.succeeded);
      expect(atAssignment).toHaveLength(1);
      expect(stdout).toContain("adding 2 and 3");
      expect(plane.state.calls.complete).toHaveLength(1);
      expect(alive(atAssignment)).toEqual([]);
    });

    it("gives that process up when the attempt turns out not to pause: the task runs in the agent, none is left", async () => {
      plane.state.inputs = { a: 2, b: 3 };
      const { code, stdout, atAssignment } = await runWithHint();

      expect(code).toBe(EXIT_CODES.succeeded);
      expect(atAssignment).toHaveLength(1);
      expect(stdout).toContain("adding 2 and 3");
      expect(alive(atAssignment)).toEqual([]);
    });
  });

  it("exits 2 naming the variable when the environment is invalid", async () => {
    const { code, stderr } = await (await startAgent({ DRYDOCK_ENDPOINT: "not a url" })).exited;
    expect(code).toBe(EXIT_CODES.platformFailed);
    expect(stderr).toMatch(/invalid agent environment: DRYDOCK_ENDPOINT/);
    expect(plane.state.calls.assignment).toBe(0);
  });
});
