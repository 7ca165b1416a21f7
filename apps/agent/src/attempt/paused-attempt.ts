/**
 * A task that may pause (`vscode({ onFailure: "pause" })`, or a pause point on its node): it runs at once,
 * with no IDE, in a paused-task runner (paused/paused-task.ts) — a child process under its own inspector.
 * Succeeding, its output is stored and no session opens. Paused (at the throw that escaped its function, or
 * on its first line), the IDE session opens on the paused process, and how the session ends decides the
 * attempt: the edited sources run for real (`edited`); the attempt ends with the original error so a new one
 * runs the registered code, or — held before it ran — the registered code runs now (`original`); the attempt
 * fails with the original error and is never retried (`fail`); or, continued in the debugger, the process ran
 * to its end and its output is stored (`continued`). Whatever the end, the task's process is gone.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describePause, RESUME_FAIL_CODE, RESUME_ORIGINAL_CODE } from "@drydock/contracts";
import type { ErrorInfo, JsonValue, PauseInfo } from "@drydock/contracts";

import { SessionPause } from "../ide/session-pause.js";
import type { SessionEnding } from "../ide/session.js";
import { startPausedTask } from "../paused/paused-task.js";
import type { PausedTask } from "../paused/paused-task.js";
import type { TaskEntity } from "../task-entity.js";
import { taskLogWriter } from "./context.js";
import type { AttemptContext } from "./context.js";
import { AGENT_ERROR_CODES, EXIT_CODES } from "./exit-codes.js";
import { awaitSession, finishSession, runEditedTask } from "./interactive-task.js";
import { reportFailure, setupFailed, storeOutput, taskFailed } from "./outcome.js";
import { runHook } from "./run-hook.js";
import { errorInfo, runTrapped } from "./task-errors.js";
import type { SessionRun, TaskHooks, TaskHooksRef } from "./task-session.js";

export interface PausedStart extends SessionRun {
  /** Hold the task on its first line (a pause point), rather than only at a throw. */
  pauseBefore: boolean;
  /**
   * The task from its module imported in the agent (it has the hooks, and a held task's original code runs
   * here), or the exit code once its failure was reported.
   */
  loadTask(): Promise<TaskEntity | number>;
  /** Whether the task's `vscode(...)` hooks apply: an interactive task's do. */
  hooksApply: boolean;
}

interface PausedRun extends SessionRun {
  task: TaskEntity;
  pauseBefore: boolean;
  hooks: TaskHooks;
}

export async function runPausedAttempt(ctx: AttemptContext, start: PausedStart): Promise<number> {
  // A preExecute hook runs in the agent before the task's process starts, so the module loads here first.
  // Otherwise the agent does not load it at all unless the task pauses: succeeding, the task's process is
  // the only one to import it (and runs postExecute itself), so onFailure: "pause" costs one process start.
  const early =
    start.hooksApply && start.interactive.preExecute
      ? await loaded(ctx, start, start.loadTask(), { preExecute: true })
      : undefined;
  if (typeof early === "number") return early;

  // The inspector's socket goes in here: a directory only this user can enter (mkdtemp makes it 0700).
  const privateDir = await mkdtemp(join(tmpdir(), "drydock-paused-"));
  let child: PausedTask | undefined;
  // A stopped attempt's agent exits once its teardowns are done: the task's process must be one of them.
  const onStop = () => ctx.teardowns.add(child?.stop() ?? Promise.resolve());
  ctx.signal.addEventListener("abort", onStop, { once: true });
  try {
    try {
      const runner = ctx.prestarted?.take();
      child = await startPausedTask({
        ...(runner ? { runner } : {}),
        bundleDir: start.bundle.dir,
        entry: start.bundle.manifest.entry,
        taskName: ctx.assignment.task.name,
        inputs: start.inputs,
        pauseBefore: start.pauseBefore,
        postExecute: start.hooksApply,
        privateDir,
        // Through the agent's own streams, which the log forwarder captures.
        writeOutput: (stream, chunk) => process[stream].write(chunk),
        signal: ctx.signal,
        env: ctx.config.childEnv,
      });
    } catch (error) {
      return await setupFailed(ctx, "could not start the task's process", error);
    }
    const first = await child.next();
    if (ctx.signal.aborted) return EXIT_CODES.stopped;
    if (first.type === "paused")
      // The module loads in the agent beside the session's start: the hooks and a held task's original
      // code are needed only once the session ends.
      return await holdPaused(
        ctx,
        early ?? loaded(ctx, start, start.loadTask(), { preExecute: false }),
        start,
        child,
        first.pause,
      );
    // Its output is final: stored at once, while its process ends (the finally waits for that).
    if (first.type === "succeeded") return await storeOutput(ctx, first.output);
    await child.stop();
    return await failedWithout(ctx, first.error);
  } finally {
    ctx.signal.removeEventListener("abort", onStop);
    await child?.stop();
    await rm(privateDir, { recursive: true, force: true });
  }
}

/** The task with its hooks once its module loaded, and preExecute run if asked; or the exit code. */
async function loaded(
  ctx: AttemptContext,
  start: PausedStart,
  loading: Promise<TaskEntity | number>,
  { preExecute }: { preExecute: boolean },
): Promise<PausedRun | number> {
  const task = await loading;
  if (typeof task === "number") return task;
  if (ctx.signal.aborted) return EXIT_CODES.stopped;
  const hooks = (start.hooksApply && task.interactive?.options) || {};
  try {
    if (preExecute && hooks.preExecute)
      await runHook("preExecute", hooks.preExecute, taskLogWriter(ctx));
  } catch (error) {
    return reportFailure(ctx, { ...errorInfo(error), code: AGENT_ERROR_CODES.hookFailed });
  }
  return {
    task,
    hooks,
    pauseBefore: start.pauseBefore,
    bundle: start.bundle,
    inputs: start.inputs,
    interactive: start.interactive,
  };
}

/**
 * The task paused: its session opens on the paused process at once, while the module loads in the agent (its
 * hooks reach the session through a ref), and the session's end decides the attempt.
 */
async function holdPaused(
  ctx: AttemptContext,
  loading: PausedRun | Promise<PausedRun | number>,
  start: PausedStart,
  child: PausedTask,
  first: PauseInfo,
): Promise<number> {
  const name = ctx.assignment.task.name;
  if (first.stack) process.stderr.write(`${first.stack}\n`);
  taskLogWriter(ctx)(
    first.reason === "before"
      ? `task ${name} is held before it runs (pause point); opening VS Code`
      : `task ${name} threw: ${describePause(first)}; opening VS Code on the paused process (onFailure: pause)`,
  );
  const hooks: TaskHooksRef = {};
  const ready = Promise.resolve(loading).then((run) => {
    if (typeof run !== "number") hooks.current = run.hooks;
    return run;
  });
  const pause = new SessionPause(first, child.inspectorUrl, child.loadedFrom);
  const watch = watchChild(ctx, child, pause);
  let held;
  try {
    held = await awaitSession(ctx, {
      bundle: start.bundle,
      inputs: start.inputs,
      interactive: start.interactive,
      hooks,
      pause,
    });
  } finally {
    watch.stop();
  }
  const run = await ready;
  if (typeof held === "number") return held;
  if (typeof run === "number") {
    await held.dispose();
    return run;
  }
  // Whatever the end, the process that paused is done with (it may have exited already); a resume waits
  // for it to be gone, the attempt's end (runPausedAttempt) too.
  const stopping = child.stop();
  return finishSession(ctx, run, held, async (ending) => {
    await stopping;
    return resumed(ctx, run, ending, watch);
  });
}

/** What the paused process did while its session was open. */
interface ChildWatch {
  /** Its output, once it ran to its end successfully (continued in the debugger). */
  output?: { value: JsonValue };
  /** The original error: where it last paused at a throw, or how it ended if it never did. */
  error?: ErrorInfo;
  /** Stops listening: from here on, its end is the agent's doing. */
  stop(): void;
}

/** Passes the paused process's events to the session while it is open (see SessionPause). */
function watchChild(ctx: AttemptContext, child: PausedTask, pause: SessionPause): ChildWatch {
  const name = ctx.assignment.task.name;
  let watching = true;
  const first = pause.current;
  const watch: ChildWatch = {
    ...(first?.reason === "exception" ? { error: errorOfPause(first) } : {}),
    stop: () => (watching = false),
  };
  void (async () => {
    while (watching) {
      const event = await child.next();
      if (!watching) return;
      switch (event.type) {
        case "paused":
          if (event.pause.reason === "exception") watch.error = errorOfPause(event.pause);
          taskLogWriter(ctx)(`task ${name} is ${describePause(event.pause)}`);
          pause.update(event.pause);
          break;
        case "succeeded":
          watch.output = { value: event.output };
          taskLogWriter(ctx)(`task ${name} ran to its end in the debugger`);
          pause.finish();
          return;
        case "failed":
          // Continued after a throw, the error went on and ended the process. The session keeps the pause as
          // the record of where it threw: every resume choice still stands (the server accepts original and
          // fail only for a session with a pause).
          watch.error ??= event.error;
          taskLogWriter(ctx)(
            `task ${name} ran on from the debugger and failed (${event.error.message}); the session stays open for a resume choice`,
          );
          return;
      }
    }
  })();
  return watch;
}

/** The session ended resumed, with a choice. */
async function resumed(
  ctx: AttemptContext,
  run: PausedRun,
  ending: Extract<SessionEnding, { kind: "resume" }>,
  watch: ChildWatch,
): Promise<number> {
  const name = ctx.assignment.task.name;
  switch (ending.choice) {
    case "continued":
      return watch.output
        ? storeOutput(ctx, watch.output.value)
        : reportFailure(
            ctx,
            {
              message: `the session of task ${name} ended as continued in the debugger, but the task's process reported no output`,
              name: "Error",
              code: AGENT_ERROR_CODES.sessionFailed,
            },
            EXIT_CODES.platformFailed,
          );
    case "edited":
      return runEditedTask(ctx, run, ending.workspace);
    case "original":
      if (watch.error) {
        taskLogWriter(ctx)(
          `task ${name} ends this attempt with its original error, so a new attempt runs the registered code again`,
        );
        return reportFailure(ctx, { ...watch.error, code: RESUME_ORIGINAL_CODE });
      }
      // Held before it ran: the registered code runs now, in the agent, with the same inputs.
      return runOriginalTask(ctx, run);
    case "fail": {
      const error = watch.error ?? {
        message: `task ${name} ended as failed before it ran`,
        name: "EndedAsFailed",
      };
      taskLogWriter(ctx)(`task ${name} ended as failed: ${error.message}`);
      return reportFailure(ctx, { ...error, code: RESUME_FAIL_CODE });
    }
  }
}

async function runOriginalTask(ctx: AttemptContext, run: PausedRun): Promise<number> {
  taskLogWriter(ctx)(`resuming task ${ctx.assignment.task.name} with its original code`);
  let output: JsonValue;
  try {
    output = await runTrapped(() => run.task.execute(run.inputs));
  } catch (error) {
    return taskFailed(ctx, error);
  }
  return storeOutput(ctx, output);
}

/** The task's process ended with an error without pausing (its module failed to load, say). */
function failedWithout(ctx: AttemptContext, error: ErrorInfo): Promise<number> {
  process.stderr.write(`${error.stack ?? `${error.name ?? "Error"}: ${error.message}`}\n`);
  ctx.forwarder?.system(`task ${ctx.assignment.task.name} failed: ${error.message}`);
  return reportFailure(ctx, error);
}

function errorOfPause(pause: PauseInfo): ErrorInfo {
  return {
    message: pause.message,
    ...(pause.name ? { name: pause.name } : {}),
    ...(pause.stack ? { stack: pause.stack } : {}),
  };
}
