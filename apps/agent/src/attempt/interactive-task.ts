/**
 * An interactive task (`vscode(...)`): preExecute; with runTaskFirst a first run, which ends the attempt if
 * it succeeds; then the session (perhaps started early), until it ends; postExecute once code-server
 * stopped; and on resume the task for real, from the workspace's (edited) sources, with the same inputs.
 */
import { join } from "node:path";

import type { ErrorInfo, JsonValue } from "@drydock/contracts";

import { describeError } from "../client.js";
import { sessionLimits } from "../ide/session-ending.js";
import type { HeldSession, SessionEnding } from "../ide/session.js";
import { findTasks } from "../task-entity.js";
import type { TaskEntity } from "../task-entity.js";
import { taskLogWriter } from "./context.js";
import type { AttemptContext } from "./context.js";
import { AGENT_ERROR_CODES, EXIT_CODES } from "./exit-codes.js";
import { reportFailure, storeOutput, taskFailed } from "./outcome.js";
import { runHook } from "./run-hook.js";
import { errorInfo, errorName, printTaskError, runTrapped } from "./task-errors.js";
import { importEntry } from "./task-loader.js";
import { endFailedSession, holdTaskSession } from "./task-session.js";
import type { SessionRun, SessionStart, TaskHooks } from "./task-session.js";

export interface InteractiveRun extends SessionRun {
  task: TaskEntity;
  /** The session, when it started before the module loaded. */
  early?: Promise<HeldSession>;
}

export async function runInteractiveTask(
  ctx: AttemptContext,
  run: InteractiveRun,
): Promise<number> {
  const writeTaskLog = taskLogWriter(ctx);
  const hooks = run.task.interactive?.options ?? {};
  try {
    if (hooks.preExecute) await runHook("preExecute", hooks.preExecute, writeTaskLog);
  } catch (error) {
    return reportFailure(ctx, { ...errorInfo(error), code: AGENT_ERROR_CODES.hookFailed });
  }

  let firstRunError: ErrorInfo | undefined;
  if (run.interactive.runTaskFirst) {
    const first = await runTaskFirst(ctx, run, hooks);
    if ("exitCode" in first) return first.exitCode;
    firstRunError = first.firstRunError;
  }
  if (ctx.signal.aborted) return EXIT_CODES.stopped;

  const held = await awaitSession(ctx, {
    ...run,
    hooks: { current: hooks },
    ...(firstRunError ? { firstRunError } : {}),
  });
  return typeof held === "number"
    ? held
    : finishSession(ctx, run, held, (ending) => runEditedTask(ctx, run, ending.workspace));
}

/** With runTaskFirst: the task runs once; its success ends the attempt (no IDE), its failure opens the IDE. */
async function runTaskFirst(
  ctx: AttemptContext,
  run: InteractiveRun,
  hooks: TaskHooks,
): Promise<{ exitCode: number } | { firstRunError: ErrorInfo }> {
  const writeTaskLog = taskLogWriter(ctx);
  const name = ctx.assignment.task.name;
  let output: JsonValue;
  try {
    output = await runTrapped(() => run.task.execute(run.inputs));
    writeTaskLog(`task ${name} succeeded on its first run: no IDE is needed (runTaskFirst)`);
    if (hooks.postExecute) await runHook("postExecute", hooks.postExecute, writeTaskLog);
  } catch (error) {
    printTaskError(error);
    writeTaskLog(
      `task ${name} failed on its first run (${describeError(error)}): opening VS Code so it can be fixed (runTaskFirst)`,
    );
    return { firstRunError: errorInfo(error) };
  }
  return { exitCode: await storeOutput(ctx, output) };
}

/** The held session (started early, or now), or the exit code when it could not be held. */
export async function awaitSession(
  ctx: AttemptContext,
  run: SessionStart & { early?: Promise<HeldSession> },
): Promise<HeldSession | number> {
  try {
    return await (run.early ?? holdTaskSession(ctx, run));
  } catch (error) {
    const message = `the interactive session failed: ${describeError(error)}`;
    ctx.log.error(message);
    taskLogWriter(ctx)(message);
    await endFailedSession(ctx);
    return reportFailure(
      ctx,
      { message, name: errorName(error), code: AGENT_ERROR_CODES.sessionFailed },
      EXIT_CODES.platformFailed,
    );
  }
}

/**
 * Acts on how the session ended — `resumed` decides what a resume does — and its private directory is
 * removed by the time this resolves.
 */
export async function finishSession(
  ctx: AttemptContext,
  run: SessionRun,
  held: HeldSession,
  resumed: (ending: Extract<SessionEnding, { kind: "resume" }>) => Promise<number>,
): Promise<number> {
  const { signal } = ctx;
  // Stopped from here on (abort, or the server's answer once the attempt ended), the agent exits as soon as its
  // teardowns are done: removing the session's directory must be one of them.
  let disposal: Promise<void> | undefined;
  const dispose = () => (disposal ??= held.dispose());
  const onStop = () => ctx.teardowns.add(dispose());
  signal.addEventListener("abort", onStop, { once: true });
  try {
    const { ending } = held;
    if (ending.kind === "stopped") return EXIT_CODES.stopped;
    if (ending.kind !== "resume") {
      await dispose(); // nothing needs the workspace any more
      return await sessionLimitPassed(ctx, run, ending.kind);
    }
    return await resumed(ending);
  } finally {
    signal.removeEventListener("abort", onStop);
    await dispose();
  }
}

/** The session ended under one of its limits: the attempt fails saying which, never retried. */
function sessionLimitPassed(
  ctx: AttemptContext,
  run: SessionRun,
  limit: "idle" | "unopened",
): Promise<number> {
  const name = ctx.assignment.task.name;
  const limits = sessionLimits(run.interactive);
  const error: ErrorInfo =
    limit === "idle"
      ? {
          message: `the interactive session of task ${name} ended after ${limits.maxIdleSeconds} s without activity (maxIdleSeconds); the task did not run to completion`,
          name: "SessionIdleError",
          code: AGENT_ERROR_CODES.sessionIdle,
        }
      : {
          message: `the interactive session of task ${name} ended after ${limits.maxUnopenedSeconds} s without being opened (maxUnopenedSeconds); the task did not run to completion`,
          name: "SessionUnopenedError",
          code: AGENT_ERROR_CODES.sessionUnopened,
        };
  taskLogWriter(ctx)(error.message);
  return reportFailure(ctx, error);
}

/** Resumed: the task runs for real from the workspace's sources, edits included, with the same inputs. */
export async function runEditedTask(
  ctx: AttemptContext,
  run: SessionRun,
  workspace: string,
): Promise<number> {
  const name = ctx.assignment.task.name;
  const entry = run.bundle.manifest.entry;
  taskLogWriter(ctx)(`resuming task ${name} with the sources as edited in the IDE`);
  let output: JsonValue;
  try {
    const edited = findTasks(await importEntry(join(workspace, entry))).get(name);
    if (!edited)
      throw new Error(`task "${name}" is no longer defined in ${entry} (edited in the IDE)`);
    output = await runTrapped(() => edited.execute(run.inputs));
  } catch (error) {
    return taskFailed(ctx, error);
  }
  return await storeOutput(ctx, output);
}
