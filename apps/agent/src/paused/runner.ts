/**
 * The paused-task runner: a child process of the agent that runs one task under its own inspector (see
 * bridge.ts) so that a throw escaping the task function leaves the process paused at the throw, its stack and
 * locals intact, for VS Code to attach to. Succeeding, it costs a process and an idle inspector session.
 *
 * The task is called with nothing around it that would catch its error — no try/catch, no rejection handler —
 * so V8 predicts the throw uncaught and pauses right there; the failure is then seen by the process-level
 * handlers, once a debugger lets it go on.
 */
import { writeSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

import type { ErrorInfo, JsonValue } from "@drydock/contracts";
import type { register } from "tsx/esm/api";

import { findTasks } from "../task-entity.js";
import type { TaskEntity } from "../task-entity.js";
import { MESSAGE_FD, TASK_FN_KEY } from "./protocol.js";
import type { BridgeReply, BridgeRequest, RunnerMessage, RunnerSettings } from "./protocol.js";

function send(message: RunnerMessage): void {
  writeSync(MESSAGE_FD, `${JSON.stringify(message)}\n`);
}

function errorInfo(error: unknown, code?: string): ErrorInfo {
  const info =
    error instanceof Error
      ? { message: error.message, name: error.name, ...(error.stack ? { stack: error.stack } : {}) }
      : { message: `non-Error thrown: ${String(error)}`, name: typeof error };
  return code ? { ...info, code } : info;
}

/** Ends the process once the bridge's inspector sessions are closed (Node would say it waits for a debugger). */
function exit(code: number): void {
  void bridge.terminate().finally(() => process.exit(code));
}

function fail(error: unknown, code?: string): void {
  send({ type: "failed", error: errorInfo(error, code) });
  exit(1);
}

const tsxApi = process.argv[2];
if (!tsxApi)
  throw new Error(
    "usage: paused-runner.js <tsx/esm/api URL>, settings on stdin: the agent starts this program",
  );

// What every task needs starts before the settings arrive — TypeScript loading and the bridge inspecting this
// thread — so a runner started beside the agent (main.ts) has both under way by the time the agent knows the
// task. Stack traces and the debugger point at the .ts lines; TypeScript loads as in the agent: no tsconfig,
// so neither this process's working directory nor the bundle's changes how it compiles.
process.setSourceMapsEnabled(true);
const loader = (import(tsxApi) as Promise<{ register: typeof register }>).then(
  ({ register }) => void register({ tsconfig: false }),
  (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
);
const bridge: Worker = new Worker(new URL("./paused-bridge.js", import.meta.url));
bridge.on("error", (error) => fail(error, "PAUSED_TASK_BRIDGE_FAILED"));
const reply = async (): Promise<BridgeReply> => (await once(bridge, "message"))[0] as BridgeReply;

const settings = await readSettings();
process.chdir(settings.bundleDir);
// Ready: inspecting, and listening on the attempt's socket. The task's module loads meanwhile.
const bridgeReady = reply().then(
  () => true,
  () => false, // its "error" event reported the failure
);
bridge.postMessage({ type: "settings", settings } satisfies BridgeRequest);

/** The first line of stdin; the agent closing it first means no task will come: the process ends. */
async function readSettings(): Promise<RunnerSettings> {
  const lines = createInterface({ input: process.stdin });
  const [line] = (await Promise.race([once(lines, "line"), once(lines, "close")])) as [string?];
  lines.close();
  process.stdin.destroy();
  if (line !== undefined) return JSON.parse(line) as RunnerSettings;
  exit(0);
  return new Promise<never>(() => undefined); // the process is ending
}

/** The task from the bundle's entry; undefined once its failure was reported. */
async function loadTask(): Promise<TaskEntity | undefined> {
  try {
    const loaderError = await loader;
    if (loaderError !== undefined) throw loaderError;
    const entry = join(settings.bundleDir, settings.entry);
    const task = findTasks(
      (await import(pathToFileURL(entry).href)) as Record<string, unknown>,
    ).get(settings.taskName);
    if (!task) throw new Error(`task "${settings.taskName}" is not defined in ${settings.entry}`);
    return task;
  } catch (error) {
    fail(error, "TASK_IMPORT_FAILED");
    return undefined;
  }
}

/** A pause point: the bridge breaks on the first line of the task's own function. False once reported failed. */
async function holdBeforeTask(task: TaskEntity): Promise<boolean> {
  if (!settings.pauseBefore || !task.fn) return true;
  (globalThis as Record<symbol, unknown>)[Symbol.for(TASK_FN_KEY)] = task.fn;
  bridge.postMessage({ type: "break-on-task" });
  const set = await reply();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for(TASK_FN_KEY)];
  if (set.type === "breakpoint-set" && !set.ok) {
    fail(new Error(`could not hold task ${settings.taskName} before it runs: ${set.reason ?? ""}`));
    return false;
  }
  return true;
}

/** The task's postExecute hook, when it has one and it applies; false once its failure was reported. */
async function postExecute(task: TaskEntity): Promise<boolean> {
  const hook = settings.postExecute ? task.interactive?.options.postExecute : undefined;
  if (!hook) return true;
  console.log("[drydock] running postExecute");
  try {
    await hook();
  } catch (error) {
    fail(error, "INTERACTIVE_HOOK_FAILED");
    return false;
  }
  console.log("[drydock] postExecute done");
  return true;
}

const task = await loadTask();
if (task && (await bridgeReady) && (await holdBeforeTask(task))) {
  // The task's failure, once the debugger (or nobody, when the inspector is not paused) lets it through.
  process.on("uncaughtException", (error) => fail(error));
  process.on("unhandledRejection", (error) => fail(error));
  setImmediate(() => {
    // No rejection handler here, on purpose: see the top of this file.
    void task.execute(settings.inputs).then(async (output: JsonValue) => {
      if (!(await postExecute(task))) return;
      send({ type: "succeeded", output });
      exit(0);
    });
  });
}
