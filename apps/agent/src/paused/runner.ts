/**
 * The paused-task runner: a child process of the agent that runs one task under its own inspector (see
 * bridge.ts) so that a throw escaping the task function leaves the process paused at the throw, its stack and
 * locals intact, for VS Code to attach to. Succeeding, it costs a process and an idle inspector session.
 *
 * The task is called with nothing around it that would catch its error — no try/catch, no rejection handler —
 * so V8 predicts the throw uncaught and pauses right there; the failure is then seen by the process-level
 * handlers, once a debugger lets it go on.
 */
import { readFileSync, writeSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

import type { ErrorInfo, JsonValue } from "@drydock/contracts";

import { findTasks } from "../task-entity.js";
import { MESSAGE_FD, TASK_FN_KEY } from "./protocol.js";
import type { BridgeReply, RunnerMessage, RunnerSettings } from "./protocol.js";

const settingsFile = process.argv[2];
if (!settingsFile)
  throw new Error("usage: paused-runner.js <settings file>: the agent starts this program");
const settings = JSON.parse(readFileSync(settingsFile, "utf8")) as RunnerSettings;

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

function fail(error: unknown, code?: string): never {
  send({ type: "failed", error: errorInfo(error, code) });
  process.exit(1);
}

const bridge = new Worker(new URL("./paused-bridge.js", import.meta.url), { workerData: settings });
bridge.on("error", (error) => fail(error, "PAUSED_TASK_BRIDGE_FAILED"));
const reply = async (): Promise<BridgeReply> => (await once(bridge, "message"))[0] as BridgeReply;
await reply(); // inspecting, and listening on its socket

let task;
try {
  // Stack traces and the debugger point at the .ts lines; TypeScript loads as in the agent.
  process.setSourceMapsEnabled(true);
  await import(settings.tsxLoader);
  const entry = join(settings.bundleDir, settings.entry);
  task = findTasks((await import(pathToFileURL(entry).href)) as Record<string, unknown>).get(
    settings.taskName,
  );
  if (!task) throw new Error(`task "${settings.taskName}" is not defined in ${settings.entry}`);
} catch (error) {
  fail(error, "TASK_IMPORT_FAILED");
}

if (settings.pauseBefore && task.fn) {
  (globalThis as Record<symbol, unknown>)[Symbol.for(TASK_FN_KEY)] = task.fn;
  bridge.postMessage({ type: "break-on-task" });
  const set = await reply();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for(TASK_FN_KEY)];
  if (set.type === "breakpoint-set" && !set.ok)
    fail(new Error(`could not hold task ${settings.taskName} before it runs: ${set.reason ?? ""}`));
}

// The task's failure, once the debugger (or nobody, when the inspector is not paused) lets it through.
process.on("uncaughtException", (error) => fail(error));
process.on("unhandledRejection", (error) => fail(error));
const run = task;
setImmediate(() => {
  // No rejection handler here, on purpose: see the top of this file.
  void run.execute(settings.inputs).then((output: JsonValue) => {
    send({ type: "succeeded", output });
    process.exit(0);
  });
});
