/**
 * Runs a task in a paused-task runner (runner.ts): a child process of the agent, in a process group of its
 * own, whose task pauses at a throw escaping its function (post-mortem debugging, `vscode({ onFailure:
 * "pause" })`) or on its first line (a pause point), until VS Code attaches through the inspector's Unix
 * socket — or the agent stops it. Its events arrive in order: `paused` (perhaps several times, once a debugger
 * lets it go on), then at most one of `succeeded` / `failed`, after which the process has exited.
 */
import type { ChildProcess } from "node:child_process";
import { chmod, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

import type { ErrorInfo, JsonValue, PauseInfo } from "@drydock/contracts";

import { terminateTree } from "../process-group.js";
import { MESSAGE_FD } from "./protocol.js";
import type { RunnerMessage, RunnerSettings } from "./protocol.js";
import { spawnPausedRunner } from "./runner-process.js";

export interface PausedTaskOptions {
  /** The extracted bundle; the child imports `entry` from here with tsx. */
  bundleDir: string;
  entry: string;
  taskName: string;
  inputs: Record<string, unknown>;
  /** Hold the task on its function's first line. */
  pauseBefore: boolean;
  /** Run the task's `vscode(...)` postExecute hook in its process once it succeeded (an interactive task's). */
  postExecute: boolean;
  /** An existing 0700 directory of this attempt: the inspector's socket goes in it. */
  privateDir: string;
  /** The task's own output, for its log. */
  writeOutput(stream: "stdout" | "stderr", chunk: Buffer): void;
  /** Aborted → the child's process group is killed. */
  signal: AbortSignal;
  /** The child's environment: the agent's `childEnv` (never its attempt token). */
  env: Record<string, string>;
  /**
   * A runner already started (runner-process.ts), waiting for its settings; otherwise one is started now, with
   * `env` and `writeOutput`.
   */
  runner?: ChildProcess;
}

export type PausedTaskEvent =
  | { type: "paused"; pause: PauseInfo }
  | { type: "succeeded"; output: JsonValue }
  | { type: "failed"; error: ErrorInfo };

export interface PausedTask {
  /** `ws+unix:<socket>:/`, for the attach configuration's websocketAddress. */
  readonly inspectorUrl: string;
  /** Where its modules were loaded from: the attach configuration's remoteRoot. */
  readonly loadedFrom: string;
  /** The next event; after `succeeded` or `failed` it never resolves. */
  next(): Promise<PausedTaskEvent>;
  /** Ends its process group and removes its socket; idempotent; resolves once the processes are gone. */
  stop(): Promise<void>;
}

/** How long a stopped runner gets to exit on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 2_000;

export async function startPausedTask(options: PausedTaskOptions): Promise<PausedTask> {
  const socketPath = join(options.privateDir, "inspector.sock");
  await chmod(options.privateDir, 0o700);
  const settings: RunnerSettings = {
    bundleDir: options.bundleDir,
    entry: options.entry,
    taskName: options.taskName,
    inputs: options.inputs,
    pauseBefore: options.pauseBefore,
    postExecute: options.postExecute,
    socketPath,
  };
  const child =
    options.runner ??
    spawnPausedRunner({
      env: options.env,
      writeOutput: (stream, chunk) => options.writeOutput(stream, chunk),
    });
  // Its settings go down a pipe only the agent holds; the child reads one line and closes it.
  child.stdin?.end(`${JSON.stringify(settings)}\n`);

  const queue: PausedTaskEvent[] = [];
  const waiting: ((event: PausedTaskEvent) => void)[] = [];
  let ended = false;
  const push = (event: PausedTaskEvent) => {
    if (ended) return;
    if (event.type !== "paused") ended = true;
    const taker = waiting.shift();
    if (taker) taker(event);
    else queue.push(event);
  };
  const messages = child.stdio[MESSAGE_FD] as Readable;
  const lines = createInterface({ input: messages });
  lines.on("line", (line) => {
    try {
      push(JSON.parse(line) as RunnerMessage);
    } catch {
      // not ours: the protocol is one JSON object per line
    }
  });
  const exited = new Promise<void>((resolve) => {
    child.once("close", (code, signal) => {
      push({
        type: "failed",
        error: {
          message: `the task's process ended (${signal ? `signal ${signal}` : `exit code ${String(code)}`}) before it reported an outcome`,
          name: "Error",
          code: "PAUSED_TASK_EXITED",
        },
      });
      resolve();
    });
    child.once("error", (error) => {
      push({ type: "failed", error: { message: error.message, name: error.name } });
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
        await terminateTree(child.pid, STOP_GRACE_MS);
      await Promise.race([exited, new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
      lines.close();
      await rm(socketPath, { force: true });
    })());
  if (options.signal.aborted) void stop();
  else options.signal.addEventListener("abort", () => void stop(), { once: true });

  return {
    inspectorUrl: `ws+unix:${socketPath}:/`,
    loadedFrom: options.bundleDir,
    next: () => {
      const event = queue.shift();
      if (event) return Promise.resolve(event);
      if (ended) return new Promise<PausedTaskEvent>(() => undefined);
      return new Promise((resolve) => waiting.push(resolve));
    },
    stop,
  };
}
