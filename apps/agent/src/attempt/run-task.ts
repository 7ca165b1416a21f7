/**
 * The task itself, once the attempt is under way: the code bundle (from the machine's cache) and the inputs,
 * the entry imported and the task found in it, then the task run — or, for a `vscode(...)` task, handed to
 * interactive-task.ts, and for one that may pause (onFailure: "pause", a pause point) to paused-attempt.ts —
 * and its outcome reported.
 */
import { join } from "node:path";

import { InteractiveConfigSchema } from "@drydock/contracts";
import type { InteractiveConfig, JsonValue } from "@drydock/contracts";

import { ensureBundle } from "../bundle-cache.js";
import type { CachedBundle } from "../bundle-cache.js";
import { findTasks } from "../task-entity.js";
import type { TaskEntity } from "../task-entity.js";
import { BlobHttp } from "./blob-http.js";
import type { AttemptContext } from "./context.js";
import { AGENT_ERROR_CODES, EXIT_CODES } from "./exit-codes.js";
import { reportFailure, setupFailed, storeOutput, taskFailed } from "./outcome.js";
import { errorInfo, printTaskError, runTrapped } from "./task-errors.js";
import { importEntry } from "./task-loader.js";
import type { EarlySession, TaskHooksRef } from "./task-session.js";

/** Runs the assigned task and reports its outcome; resolves to the exit code. */
export async function runAssignedTask(ctx: AttemptContext): Promise<number> {
  const { assignment, forwarder, signal } = ctx;
  const spec = assignment.task;
  forwarder?.system(
    `running task ${spec.name} (execution ${assignment.executionId}, node ${assignment.nodeId}, attempt ${assignment.attemptNumber})`,
  );
  const interactive = spec.interactive?.enable ? spec.interactive : undefined;
  const pauses = assignment.pauseBefore === true || interactive?.onFailure === "pause";
  // A task process started with the agent serves only a task that may pause.
  if (!pauses) ctx.prestarted?.dispose();
  const fetched = await fetchBundleAndInputs(ctx);
  if (typeof fetched === "number") return fetched;
  const { bundle, inputs } = fetched;

  // The IDE's and the debugger's modules load only for an attempt that uses them: a cold agent of a plain
  // task starts without them. Without a preExecute hook or a first run to wait for, the IDE comes first: the
  // module (needed only to check the task is there and for postExecute; resume imports the edited sources)
  // loads once it is up, so the two do not compete for the CPU while the user waits for the link.
  const hooks: TaskHooksRef = {};
  const early =
    interactive && !pauses && !interactive.runTaskFirst && !interactive.preExecute
      ? (await import("./task-session.js")).holdSessionEarly(ctx, {
          bundle,
          inputs,
          interactive,
          hooks,
        })
      : undefined;
  await early?.reachable;

  if (pauses)
    return (await import("./paused-attempt.js")).runPausedAttempt(ctx, {
      inputs,
      bundle,
      interactive: interactive ?? pausedSessionDefaults(spec.interactive),
      pauseBefore: assignment.pauseBefore === true,
      loadTask: () => loadTask(ctx, bundle, undefined),
      hooksApply: interactive !== undefined,
    });

  // A task that opens no IDE runs the bundle's compiled entry where it has one; the IDE debugs the sources.
  const task = await loadTask(ctx, bundle, early, { compiled: !interactive });
  if (typeof task === "number") return task;
  hooks.current = task.interactive?.options ?? {};
  if (signal.aborted) return EXIT_CODES.stopped;

  if (interactive)
    return (await import("./interactive-task.js")).runInteractiveTask(ctx, {
      task,
      inputs,
      bundle,
      interactive,
      ...(early ? { early: early.held } : {}),
    });

  let output: JsonValue;
  try {
    output = await runTrapped(() => task.execute(inputs));
  } catch (error) {
    return taskFailed(ctx, error);
  }
  return storeOutput(ctx, output);
}

/** The session of a task that is not interactive, held at a pause point: the task's limits if it has any, else the defaults. */
function pausedSessionDefaults(disabled: InteractiveConfig | undefined): InteractiveConfig {
  return InteractiveConfigSchema.parse({
    maxIdleSeconds: disabled?.maxIdleSeconds,
    maxUnopenedSeconds: disabled?.maxUnopenedSeconds,
  });
}

/** The extracted bundle and the inputs, or the exit code when either could not be had. */
async function fetchBundleAndInputs(
  ctx: AttemptContext,
): Promise<{ bundle: CachedBundle; inputs: Record<string, unknown> } | number> {
  const { config, assignment, call, log, signal } = ctx;
  const bundleRef = assignment.bundle;
  const http = new BlobHttp(config);
  let bundle: CachedBundle;
  try {
    bundle = await ensureBundle(
      config.cacheDir,
      { sha256: bundleRef.sha256, url: http.resolve(bundleRef.url) },
      { download: (url) => call("bundle download", () => http.getBytes(url)) },
    );
  } catch (error) {
    return setupFailed(
      ctx,
      `could not fetch the code bundle ${bundleRef.sha256.slice(0, 12)}`,
      error,
    );
  }
  // Once per attempt: for a warm agent's fan-out, only the download is news.
  if (bundle.downloaded) log.info({ dir: bundle.dir }, "bundle downloaded");
  else log.debug({ dir: bundle.dir }, "bundle found in the cache");
  if (signal.aborted) return EXIT_CODES.stopped;

  // Small inputs come with the assignment; larger ones are fetched.
  const { inputsUrl } = assignment;
  let inputs: Record<string, unknown>;
  try {
    if (assignment.inputs) inputs = assignment.inputs;
    else if (inputsUrl)
      inputs = await call("inputs", () => http.getJsonObject(http.resolve(inputsUrl)));
    else throw new Error("the assignment carries neither the inputs nor where to fetch them");
  } catch (error) {
    return setupFailed(ctx, "could not read the task's inputs", error);
  }
  if (signal.aborted) return EXIT_CODES.stopped;
  return { bundle, inputs };
}

/**
 * The task, from the bundle's entry (its compiled form when `compiled` and the bundle has one), or the exit code
 * when the entry fails to import or lacks the task.
 */
async function loadTask(
  ctx: AttemptContext,
  bundle: CachedBundle,
  early: EarlySession | undefined,
  { compiled = false }: { compiled?: boolean } = {},
): Promise<TaskEntity | number> {
  const spec = ctx.assignment.task;
  const { entry, compiled: compiledEntry } = bundle.manifest;
  let moduleNamespace: Record<string, unknown>;
  try {
    moduleNamespace = await (compiled && compiledEntry !== undefined
      ? importEntry(join(bundle.dir, compiledEntry), { compiled: true })
      : importEntry(join(bundle.dir, entry)));
  } catch (error) {
    await early?.abandon();
    printTaskError(error);
    const info = errorInfo(error);
    return reportFailure(ctx, {
      ...info,
      message: `importing ${entry} failed: ${info.message}`,
      code: AGENT_ERROR_CODES.importFailed,
    });
  }

  const tasks = findTasks(moduleNamespace);
  const task = tasks.get(spec.name);
  if (!task) {
    await early?.abandon();
    const known = [...tasks.keys()].sort();
    const message = `task "${spec.name}" is not defined in ${entry} (${known.length > 0 ? `it defines ${known.join(", ")}` : "it defines no tasks"})`;
    ctx.forwarder?.system(message);
    return reportFailure(ctx, { message, name: "Error", code: AGENT_ERROR_CODES.taskNotFound });
  }
  return task;
}
