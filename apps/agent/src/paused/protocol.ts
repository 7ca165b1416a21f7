/**
 * Between the agent and a paused-task runner (runner.ts, a child process) and its inspector bridge (bridge.ts,
 * a worker thread of that child): the settings the agent writes on the child's stdin (one JSON line, once it
 * knows the task: the child may have started before), and the messages the child writes, one JSON object per
 * line, on file descriptor 3.
 */
import type { ErrorInfo, JsonValue, PauseInfo } from "@drydock/contracts";

/** The runner's message pipe (stdio index 3). */
export const MESSAGE_FD = 3;

/** The global the runner puts the task's own function in for the bridge to break on (a pause point). */
export const TASK_FN_KEY = "drydock.pausedTask.fn";

export interface RunnerSettings {
  bundleDir: string;
  entry: string;
  taskName: string;
  inputs: Record<string, unknown>;
  pauseBefore: boolean;
  /** Run the task's postExecute hook once it succeeded (no session ever opened to run it after). */
  postExecute: boolean;
  /** The inspector's Unix socket. */
  socketPath: string;
}

export type RunnerMessage =
  | { type: "paused"; pause: PauseInfo }
  | { type: "succeeded"; output: JsonValue }
  | { type: "failed"; error: ErrorInfo };

/** Bridge ↔ runner, over the worker's message port: the settings come first, then `ready` (listening). */
export type BridgeRequest =
  { type: "settings"; settings: RunnerSettings } | { type: "break-on-task" };
export type BridgeReply =
  { type: "ready" } | { type: "breakpoint-set"; ok: boolean; reason?: string };
