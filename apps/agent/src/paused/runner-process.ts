/**
 * Starting a paused-task runner's process (runner.ts). It loads TypeScript support at once and then waits for
 * its task's settings on stdin, so it can be started before the agent knows the task: main.ts starts one beside
 * the agent itself when the executor says the attempt may pause (`DRYDOCK_ATTEMPT_PAUSES=1`), and the two
 * start side by side, on two cores where there are two. This module loads nothing heavy for that reason.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";

import { packageRoot } from "../package-root.js";

export interface RunnerSpawn {
  /** The child's environment: the agent's `childEnv` (never its attempt token). */
  env: Record<string, string>;
  /** The task's own output, for its log. */
  writeOutput(stream: "stdout" | "stderr", chunk: Buffer): void;
}

/** The built runner (dist/paused/paused-runner.js), whether the agent runs from dist/ or from its sources (the tests). */
function runnerPath(): string {
  return join(packageRoot(), "dist", "paused", "paused-runner.js");
}

/** tsx's API, which the runner registers its loader with: its ES module (require.resolve would give the CommonJS one). */
function tsxApiUrl(): string {
  return import.meta.resolve("tsx/esm/api");
}

/** NODE_OPTIONS without any inspector flag: the only inspector of the task's process is the bridge's. */
function withoutInspectorFlags(base: Record<string, string>): Record<string, string> {
  const env = { ...base };
  const options = (env.NODE_OPTIONS ?? "")
    .split(/\s+/)
    .filter((option) => option && !option.startsWith("--inspect") && !option.startsWith("--debug"));
  if (options.length > 0) env.NODE_OPTIONS = options.join(" ");
  else delete env.NODE_OPTIONS;
  return env;
}

/** A runner waiting for its settings, in a process group of its own; startPausedTask gives it its task. */
export function spawnPausedRunner(options: RunnerSpawn): ChildProcess {
  const child = spawn(process.execPath, [runnerPath(), tsxApiUrl()], {
    env: withoutInspectorFlags(options.env),
    stdio: ["pipe", "pipe", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (chunk: Buffer) => options.writeOutput("stdout", chunk));
  child.stderr?.on("data", (chunk: Buffer) => options.writeOutput("stderr", chunk));
  // A runner given up on (its stdin closed before any settings) may already be gone: nothing to report.
  child.stdin?.on("error", () => undefined);
  return child;
}

/**
 * A runner started before its attempt was known: the first attempt that may pause takes it; otherwise it is
 * given up (stdin closed, which ends it, and its group signalled, to be sure).
 */
export class PrestartedRunner {
  private child: ChildProcess | undefined;

  constructor(options: RunnerSpawn) {
    this.child = spawnPausedRunner(options);
  }

  /** The runner, once and while it runs: later calls (and calls after dispose) get undefined. */
  take(): ChildProcess | undefined {
    const child = this.child;
    this.child = undefined;
    return child && child.exitCode === null && child.signalCode === null ? child : undefined;
  }

  dispose(): void {
    const child = this.take();
    if (child?.pid === undefined) return;
    child.stdin?.end();
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
