/**
 * Starts the attempt's IDE session (ide/session.ts) with what it needs from the attempt, registered as a
 * teardown so a stopped agent waits for code-server to end; postExecute runs once code-server stopped. Also
 * the early start, for a task whose IDE comes before its module loads.
 */
import type { ErrorInfo, InteractiveConfig } from "@drydock/contracts";

import type { CachedBundle } from "../bundle-cache.js";
import { holdSession } from "../ide/session.js";
import type { HeldSession } from "../ide/session.js";
import type { SessionPause } from "../ide/session-pause.js";
import type { TaskEntity } from "../task-entity.js";
import { taskLogWriter } from "./context.js";
import type { AttemptContext } from "./context.js";
import { runHook } from "./run-hook.js";

export type TaskHooks = NonNullable<TaskEntity["interactive"]>["options"];

/** The task's hooks, filled in once its module loaded (an early session needs them only at its end). */
export interface TaskHooksRef {
  current?: TaskHooks;
}

export interface SessionRun {
  bundle: CachedBundle;
  inputs: Record<string, unknown>;
  interactive: InteractiveConfig;
}

export interface SessionStart extends SessionRun {
  hooks: TaskHooksRef;
  signal?: AbortSignal;
  firstRunError?: ErrorInfo;
  /** The task's paused process (post-mortem, or a pause point). */
  pause?: SessionPause;
  onReachable?: () => void;
}

/** Holds the attempt's session until it ends (see holdSession). */
export function holdTaskSession(ctx: AttemptContext, run: SessionStart): Promise<HeldSession> {
  const writeTaskLog = taskLogWriter(ctx);
  const holding = holdSession({
    config: ctx.config,
    client: ctx.client,
    call: ctx.call,
    log: ctx.log,
    writeTaskLog,
    assignment: ctx.assignment,
    interactive: run.interactive,
    bundle: run.bundle,
    inputs: run.inputs,
    beat: ctx.beat,
    defaultExtensions: ctx.config.defaultExtensions,
    signal: run.signal ?? ctx.signal,
    ...(run.firstRunError ? { firstRunError: run.firstRunError } : {}),
    ...(run.pause ? { pause: run.pause } : {}),
    ...(run.onReachable ? { onReachable: run.onReachable } : {}),
    afterStop: async () => {
      const hook = run.hooks.current?.postExecute;
      if (hook) await runHook("postExecute", hook, writeTaskLog);
    },
  });
  ctx.teardowns.add(holding);
  return holding;
}

/** A session started before the module loads. */
export interface EarlySession {
  held: Promise<HeldSession>;
  /** Resolves once its IDE is up (or the session ended). */
  reachable: Promise<void>;
  /** Ends it when the task cannot run after all. */
  abandon(): Promise<void>;
}

export function holdSessionEarly(
  ctx: AttemptContext,
  run: SessionRun & { hooks: TaskHooksRef },
): EarlySession {
  const cancel = new AbortController();
  let onReachable!: () => void;
  const reachable = new Promise<void>((resolve) => (onReachable = resolve));
  const held = holdTaskSession(ctx, {
    ...run,
    signal: AbortSignal.any([ctx.signal, cancel.signal]),
    onReachable,
  });
  // Its rejection is handled here (and seen again by runInteractiveTask, or by abandon).
  held.then(onReachable, onReachable);
  return {
    held,
    reachable,
    abandon: async () => {
      cancel.abort();
      const session = await held.catch(() => undefined);
      await session?.dispose();
      await endFailedSession(ctx);
    },
  };
}

/** Tells the server the session ended as failed; best effort, as the attempt's failure is reported next. */
export async function endFailedSession(ctx: AttemptContext): Promise<void> {
  await ctx
    .call("endSession", () => ctx.client.agent.endSession.mutate({ reason: "failed" }))
    .catch(() => undefined);
}
