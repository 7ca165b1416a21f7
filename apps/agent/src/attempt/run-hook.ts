/** Runs a `vscode(...)` hook (preExecute, postExecute) in the agent's process, saying so in the task's log. */
import { describeError } from "../client.js";
import { printTaskError, runTrapped } from "./task-errors.js";

/** The hook's error propagates, once printed and said in the task's log. */
export async function runHook(
  name: "preExecute" | "postExecute",
  hook: () => unknown,
  writeTaskLog: (line: string) => void,
): Promise<void> {
  writeTaskLog(`running ${name}`);
  try {
    await runTrapped(() => Promise.resolve(hook()));
  } catch (error) {
    printTaskError(error);
    writeTaskLog(`${name} failed: ${describeError(error)}`);
    throw error;
  }
  writeTaskLog(`${name} done`);
}
