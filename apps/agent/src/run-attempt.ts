/**
 * One task attempt, start to finish: fetch the assignment, report started, keep a heartbeat, get the code
 * bundle and the inputs, import the entry with tsx, run the task, store its output and report the outcome.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";

import type { AttemptAssignment, ErrorInfo, InteractiveConfig, JsonValue } from "@drydock/contracts";
import { SESSION_IDLE_CODE } from "@drydock/contracts";
import type { Logger } from "pino";

import { ensureBundle } from "./bundle-cache.js";
import type { CachedBundle } from "./bundle-cache.js";
import { createAgentClient, describeError, fetchOrUnavailable, isServerUnreachable, withRetry } from "./client.js";
import type { AgentClient } from "./client.js";
import type { AgentConfig } from "./env.js";
import { Heartbeat } from "./heartbeat.js";
import { holdSession, SessionBeat } from "./ide/session.js";
import type { HeldSession } from "./ide/session.js";
import { LogForwarder } from "./log-forwarder.js";
import type { LogForwarderOptions } from "./log-forwarder.js";
import { createAgentLogger } from "./logger.js";
import { findTasks } from "./task-entity.js";
import type { TaskEntity } from "./task-entity.js";

/** How the agent process ends. */
export const EXIT_CODES = {
  succeeded: 0,
  /** The task (or its module) threw, or the task is not in the bundle; reported with `agent.fail`. */
  taskFailed: 1,
  /** The platform failed around the task (bundle, inputs, output upload, server unreachable). */
  platformFailed: 2,
  /** The server told the agent to stop (`proceed: false`), or lost track of the attempt. */
  stopped: 137,
  /** The process was asked to terminate (SIGTERM). */
  terminated: 143,
} as const;

/** Stable codes of the errors the agent reports with `agent.fail`. */
export const AGENT_ERROR_CODES = {
  setupFailed: "AGENT_SETUP_FAILED",
  taskNotFound: "TASK_NOT_FOUND",
  importFailed: "TASK_IMPORT_FAILED",
  outputUploadFailed: "AGENT_OUTPUT_UPLOAD_FAILED",
  /** The server refused `agent.complete` (outputs over a limit, …). */
  outputRefused: "AGENT_OUTPUT_REFUSED",
  /** The server refused the failure as reported; this one says so. */
  reportRefused: "AGENT_REPORT_REFUSED",
  hookFailed: "INTERACTIVE_HOOK_FAILED",
  sessionFailed: "INTERACTIVE_SESSION_FAILED",
  sessionIdle: SESSION_IDLE_CODE,
} as const;

export interface RunAttemptDeps {
  logger?: Logger;
  client?: AgentClient;
  /** Forward the task's stdout/stderr to the server (default true); options tune the forwarder. */
  forwardLogs?: boolean | LogForwarderOptions;
  /** Aborting it ends the attempt promptly with EXIT_CODES.terminated (main wires SIGTERM to it). */
  signal?: AbortSignal;
  /** Reported with `agent.started` (default: this process). */
  pid?: number;
  /** An attempt handed over to a warm agent: already assigned and started, so neither is asked again. */
  handedOver?: AttemptAssignment;
}

type Call = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

interface AttemptContext {
  config: AgentConfig;
  client: AgentClient;
  assignment: AttemptAssignment;
  call: Call;
  log: Logger;
  forwarder: LogForwarder | undefined;
  signal: AbortSignal;
  /** The heartbeat's link to an interactive session. */
  beat: SessionBeat;
  /** What must finish before the agent exits when the attempt is stopped (an interactive session's teardown). */
  teardowns: Set<Promise<unknown>>;
}

/** How long a stopped attempt waits for its teardowns (main's hard exit comes later; the executor's SIGKILL after 5 s). */
const TEARDOWN_LIMIT_MS = 4_000;

/**
 * Runs the attempt the agent token is scoped to and resolves to the process exit code (see EXIT_CODES).
 * @example process.exit(await runAttempt(loadConfig()));
 */
export async function runAttempt(config: AgentConfig, deps: RunAttemptDeps = {}): Promise<number> {
  const logger = deps.logger ?? createAgentLogger(config.logLevel);
  const client = deps.client ?? createAgentClient(config);
  const call: Call = (what, fn) =>
    withRetry(fn, {
      reconnectSeconds: config.reconnectSeconds,
      onRetry: (error, attempt, delayMs) =>
        logger.warn({ attempt, delayMs, error: describeError(error) }, `${what}: the server is unreachable, retrying`),
    });

  let assignment: AttemptAssignment;
  try {
    assignment = deps.handedOver ?? (await call("assignment", () => client.agent.assignment.query()));
  } catch (error) {
    logger.error({ error: describeError(error) }, "could not get the attempt's assignment");
    return EXIT_CODES.platformFailed;
  }
  const log = logger.child({
    attemptId: assignment.attemptId,
    executionId: assignment.executionId,
    nodeId: assignment.nodeId,
    task: assignment.task.name,
  });
  try {
    if (!deps.handedOver) await call("started", () => client.agent.started.mutate({ pid: deps.pid ?? process.pid }));
  } catch (error) {
    log.error({ error: describeError(error) }, "the server refused agent.started");
    return EXIT_CODES.platformFailed;
  }
  log.info({ attemptNumber: assignment.attemptNumber, bundle: assignment.bundle.sha256 }, "attempt started");

  const stop = new AbortController();
  let stopCode: number = EXIT_CODES.stopped;
  const halt = (code: number, reason: string) => {
    if (stop.signal.aborted) return;
    stopCode = code;
    stop.abort(new Error(reason));
  };
  const onExternalAbort = () => halt(EXIT_CODES.terminated, "the agent was asked to terminate");
  if (deps.signal?.aborted) onExternalAbort();
  deps.signal?.addEventListener("abort", onExternalAbort, { once: true });

  const forwarder =
    deps.forwardLogs === false
      ? undefined
      : new LogForwarder((lines) => call("log", () => client.agent.log.mutate({ lines })), {
          ...(typeof deps.forwardLogs === "object" ? deps.forwardLogs : {}),
          onSendError: (error, lines) => log.warn({ error: describeError(error), lines }, "could not forward task log lines"),
        });
  const beat = new SessionBeat();
  const heartbeat = new Heartbeat(async () => {
    const answer = await client.agent.heartbeat.mutate(beat.input());
    beat.answered(answer.session);
    return answer;
  }, {
    intervalMs: config.heartbeatMs,
    reconnectSeconds: config.reconnectSeconds,
    logger: log,
    onStop: (reason) => halt(EXIT_CODES.stopped, reason),
  });

  forwarder?.start();
  heartbeat.start();
  try {
    const stopped = new Promise<number>((resolve) => {
      if (stop.signal.aborted) resolve(stopCode);
      else stop.signal.addEventListener("abort", () => resolve(stopCode), { once: true });
    });
    const teardowns = new Set<Promise<unknown>>();
    const code = await Promise.race([
      perform({ config, client, assignment, call, log, forwarder, signal: stop.signal, beat, teardowns }),
      stopped,
    ]);
    if (stop.signal.aborted) {
      // The task itself may never return, but what the agent started for it (code-server) must end first.
      await Promise.race([Promise.allSettled(teardowns), sleep(TEARDOWN_LIMIT_MS)]);
      const reason = describeError(stop.signal.reason);
      log.warn({ reason }, "attempt stopped");
      forwarder?.system(`attempt stopped: ${reason}`);
      return stopCode;
    }
    return code;
  } finally {
    heartbeat.stop();
    deps.signal?.removeEventListener("abort", onExternalAbort);
    // When stopping, do not wait long for a server that may be gone.
    await forwarder?.stop(stop.signal.aborted ? { timeoutMs: 2_000 } : {});
  }
}

async function perform(ctx: AttemptContext): Promise<number> {
  const { config, assignment, call, log, forwarder, signal } = ctx;
  const { task: spec, bundle: bundleRef } = assignment;
  const http = new BlobHttp(config);
  forwarder?.system(
    `running task ${spec.name} (execution ${assignment.executionId}, node ${assignment.nodeId}, attempt ${assignment.attemptNumber})`,
  );

  let bundle;
  try {
    bundle = await ensureBundle(
      config.cacheDir,
      { sha256: bundleRef.sha256, url: http.resolve(bundleRef.url) },
      { download: (url) => call("bundle download", () => http.getBytes(url)) },
    );
  } catch (error) {
    return setupFailed(ctx, `could not fetch the code bundle ${bundleRef.sha256.slice(0, 12)}`, error);
  }
  log.info({ dir: bundle.dir, downloaded: bundle.downloaded }, bundle.downloaded ? "bundle downloaded" : "bundle found in the cache");
  if (signal.aborted) return EXIT_CODES.stopped;

  let inputs: Record<string, unknown>;
  try {
    inputs = await call("inputs", () => http.getJsonObject(http.resolve(assignment.inputsUrl)));
  } catch (error) {
    return setupFailed(ctx, "could not read the task's inputs", error);
  }
  if (signal.aborted) return EXIT_CODES.stopped;

  // Without a preExecute hook or a first run to wait for, the IDE comes first: the module (needed only to
  // check the task is there and for postExecute; resume imports the edited sources) loads once it is up,
  // so the two do not compete for the CPU while the user waits for the link.
  const interactive = spec.interactive?.enable ? spec.interactive : undefined;
  const hooks: { current?: TaskHooks } = {};
  const early = interactive && !interactive.runTaskFirst && !interactive.preExecute ? startEarly(ctx, { bundle, inputs, interactive, hooks }) : undefined;
  await early?.reachable;

  const entry = bundle.manifest.entry;
  let moduleNamespace: Record<string, unknown>;
  try {
    moduleNamespace = await importEntry(join(bundle.dir, entry));
  } catch (error) {
    await early?.abandon();
    printTaskError(error);
    const info = errorInfo(error);
    return reportFailure(ctx, { ...info, message: `importing ${entry} failed: ${info.message}`, code: AGENT_ERROR_CODES.importFailed });
  }

  const tasks = findTasks(moduleNamespace);
  const task = tasks.get(spec.name);
  if (!task) {
    await early?.abandon();
    const known = [...tasks.keys()].sort();
    const message = `task "${spec.name}" is not defined in ${entry} (${known.length > 0 ? `it defines ${known.join(", ")}` : "it defines no tasks"})`;
    forwarder?.system(message);
    return reportFailure(ctx, { message, name: "Error", code: AGENT_ERROR_CODES.taskNotFound });
  }
  hooks.current = task.interactive?.options ?? {};
  if (signal.aborted) return EXIT_CODES.stopped;

  if (interactive) return performInteractive(ctx, { task, inputs, bundle, interactive, ...(early ? { early: early.held } : {}) });

  let output: JsonValue;
  try {
    output = await runTrapped(() => task.execute(inputs));
  } catch (error) {
    return taskFailed(ctx, error);
  }
  return storeOutput(ctx, output);
}

type TaskHooks = NonNullable<TaskEntity["interactive"]>["options"];

type SessionRun = { bundle: CachedBundle; inputs: Record<string, unknown>; interactive: InteractiveConfig };

/** Holds the attempt's session; postExecute (from `hooks`, known once the module loaded) runs after code-server stopped. */
function startSession(
  ctx: AttemptContext,
  run: SessionRun & { hooks: { current?: TaskHooks }; signal?: AbortSignal; firstRunError?: ErrorInfo; onReachable?: () => void },
) {
  const system = (line: string) => ctx.forwarder?.system(line);
  const holding = holdSession({
    config: ctx.config,
    client: ctx.client,
    call: ctx.call,
    log: ctx.log,
    system,
    assignment: ctx.assignment,
    interactive: run.interactive,
    bundle: run.bundle,
    inputs: run.inputs,
    beat: ctx.beat,
    defaultExtensions: ctx.config.defaultExtensions,
    signal: run.signal ?? ctx.signal,
    ...(run.firstRunError ? { firstRunError: run.firstRunError } : {}),
    ...(run.onReachable ? { onReachable: run.onReachable } : {}),
    afterStop: async () => {
      const hook = run.hooks.current?.postExecute;
      if (hook) await runHook("postExecute", hook, system);
    },
  });
  ctx.teardowns.add(holding);
  return holding;
}

/**
 * A session started before the module loads; `reachable` resolves once its IDE is up (or the session ended),
 * and `abandon` ends it when the task cannot run after all.
 */
function startEarly(ctx: AttemptContext, run: SessionRun & { hooks: { current?: TaskHooks } }) {
  const cancel = new AbortController();
  let onReachable!: () => void;
  const reachable = new Promise<void>((resolve) => (onReachable = resolve));
  const held = startSession(ctx, { ...run, signal: AbortSignal.any([ctx.signal, cancel.signal]), onReachable });
  // Its rejection is handled here (and seen again by performInteractive, or by abandon).
  held.then(onReachable, onReachable);
  return {
    held,
    reachable,
    abandon: async () => {
      cancel.abort();
      const session = await held.catch(() => undefined);
      await session?.dispose();
      await ctx.call("endSession", () => ctx.client.agent.endSession.mutate({ reason: "failed" })).catch(() => undefined);
    },
  };
}

/**
 * An interactive task (`vscode(...)`): preExecute; with runTaskFirst a first run, which ends the attempt if
 * it succeeds; then the session (perhaps started early), until it ends; postExecute once code-server
 * stopped; and on resume the task for real, from the workspace's (edited) sources, with the same inputs.
 */
async function performInteractive(ctx: AttemptContext, run: SessionRun & { task: TaskEntity; early?: Promise<HeldSession> }): Promise<number> {
  const { assignment, forwarder, log, signal } = ctx;
  const { task, inputs, interactive } = run;
  const name = assignment.task.name;
  const system = (line: string) => forwarder?.system(line);
  const hooks = task.interactive?.options ?? {};

  try {
    if (hooks.preExecute) await runHook("preExecute", hooks.preExecute, system);
  } catch (error) {
    return reportFailure(ctx, { ...errorInfo(error), code: AGENT_ERROR_CODES.hookFailed });
  }
  const postExecute = async () => {
    if (hooks.postExecute) await runHook("postExecute", hooks.postExecute, system);
  };

  let firstRunError: ErrorInfo | undefined;
  if (interactive.runTaskFirst) {
    try {
      const output = await runTrapped(() => task.execute(inputs));
      system(`task ${name} succeeded on its first run: no IDE is needed (runTaskFirst)`);
      await postExecute();
      return storeOutput(ctx, output);
    } catch (error) {
      printTaskError(error);
      firstRunError = errorInfo(error);
      system(`task ${name} failed on its first run (${describeError(error)}): opening VS Code so it can be fixed (runTaskFirst)`);
    }
  }
  if (signal.aborted) return EXIT_CODES.stopped;

  let held;
  try {
    held = await (run.early ?? startSession(ctx, { ...run, hooks: { current: hooks }, ...(firstRunError ? { firstRunError } : {}) }));
  } catch (error) {
    const message = `the interactive session failed: ${describeError(error)}`;
    log.error(message);
    system(message);
    await ctx.call("endSession", () => ctx.client.agent.endSession.mutate({ reason: "failed" })).catch(() => undefined);
    return reportFailure(ctx, { message, name: errorName(error), code: AGENT_ERROR_CODES.sessionFailed }, EXIT_CODES.platformFailed);
  }
  // Stopped from here on (abort, or the server's answer once the attempt ended), the agent exits as soon as its
  // teardowns are done: removing the session's directory must be one of them.
  let disposal: Promise<void> | undefined;
  const dispose = () => (disposal ??= held.dispose());
  const onStop = () => ctx.teardowns.add(dispose());
  signal.addEventListener("abort", onStop, { once: true });
  try {
    const { ending } = held;
    if (ending.kind === "stopped") return EXIT_CODES.stopped;
    if (ending.kind === "idle") {
      const message = `the interactive session of task ${name} ended after ${interactive.maxIdleSeconds} s without activity (maxIdleSeconds); the task did not run to completion`;
      system(message);
      await dispose(); // nothing needs the workspace any more
      return await reportFailure(ctx, { message, name: "SessionIdleError", code: AGENT_ERROR_CODES.sessionIdle });
    }
    system(`resuming task ${name} with the sources as edited in the IDE`);
    let output: JsonValue;
    try {
      const edited = findTasks(await importEntry(join(ending.workspace, run.bundle.manifest.entry))).get(name);
      if (!edited) throw new Error(`task "${name}" is no longer defined in ${run.bundle.manifest.entry} (edited in the IDE)`);
      output = await runTrapped(() => edited.execute(inputs));
    } catch (error) {
      return taskFailed(ctx, error);
    }
    return await storeOutput(ctx, output);
  } finally {
    signal.removeEventListener("abort", onStop);
    await dispose();
  }
}

/** Runs a `vscode(...)` hook in the agent's process, saying so in the task log; its error propagates. */
async function runHook(name: "preExecute" | "postExecute", hook: () => unknown, system: (line: string) => void): Promise<void> {
  system(`running ${name}`);
  try {
    await runTrapped(async () => hook());
  } catch (error) {
    printTaskError(error);
    system(`${name} failed: ${describeError(error)}`);
    throw error;
  }
  system(`${name} done`);
}

function taskFailed(ctx: AttemptContext, error: unknown): Promise<number> {
  printTaskError(error);
  ctx.forwarder?.system(`task ${ctx.assignment.task.name} failed: ${describeError(error)}`);
  return reportFailure(ctx, errorInfo(error));
}

/** Uploads the task's output and reports the attempt complete. */
async function storeOutput(ctx: AttemptContext, output: JsonValue): Promise<number> {
  const { config, call, log, forwarder, signal } = ctx;
  const spec = ctx.assignment.task;
  if (signal.aborted) return EXIT_CODES.stopped;
  const http = new BlobHttp(config);
  const body = JSON.stringify(output ?? null);
  const outputsSha256 = createHash("sha256").update(body).digest("hex");
  try {
    await call("output upload", () => http.putJson(http.resolve(ctx.assignment.outputsUploadUrl), body));
  } catch (error) {
    const message = `could not store the task's output: ${describeError(error)}`;
    log.error(message);
    return reportFailure(ctx, { message, name: errorName(error), code: AGENT_ERROR_CODES.outputUploadFailed }, EXIT_CODES.platformFailed);
  }
  // The log is complete before the end is reported: an ended attempt's token appends nothing more.
  forwarder?.system(`task ${spec.name} succeeded`);
  await forwarder?.flush();
  try {
    await call("complete", () => ctx.client.agent.complete.mutate({ outputsSha256 }));
  } catch (error) {
    log.error({ error: describeError(error) }, "the server refused agent.complete");
    if (isServerUnreachable(error)) return EXIT_CODES.platformFailed;
    // Answered (outputs over a limit, say): the attempt fails saying why, rather than by the agent's exit.
    const message = `the server refused the task's output: ${describeError(error)}`;
    forwarder?.system(message);
    return reportFailure(ctx, { message, name: "OutputRefused", code: AGENT_ERROR_CODES.outputRefused }, EXIT_CODES.platformFailed);
  }
  log.info({ outputsSha256 }, "task succeeded");
  return EXIT_CODES.succeeded;
}

/** Entries imported by this process: a warm agent's next attempt of the same bundle reuses the loaded module. */
const importedEntries = new Map<string, Promise<Record<string, unknown>>>();

function importEntry(file: string): Promise<Record<string, unknown>> {
  let loaded = importedEntries.get(file);
  if (!loaded) {
    // tsx runs the sources as the author wrote them; no tsconfig, so the result does not depend on the cwd.
    loaded = import("tsx/esm/api").then(
      ({ tsImport }) => tsImport(pathToFileURL(file).href, { parentURL: import.meta.url, tsconfig: false }) as Promise<Record<string, unknown>>,
    );
    importedEntries.set(file, loaded);
    loaded.catch(() => importedEntries.delete(file));
  }
  return loaded;
}

/**
 * Runs the attempt the token is scoped to, then, as a warm agent, each further attempt of the same
 * execution the server hands over (`agent.next`), one at a time in this process. Resolves to the exit
 * code of the last attempt.
 */
export async function runAttempts(config: AgentConfig, deps: Omit<RunAttemptDeps, "client" | "handedOver"> = {}): Promise<number> {
  let current = config;
  let handedOver: AttemptAssignment | undefined;
  for (;;) {
    const client = createAgentClient(current);
    const code = await runAttempt(current, { ...deps, client, ...(handedOver ? { handedOver } : {}) });
    if ((code !== EXIT_CODES.succeeded && code !== EXIT_CODES.taskFailed) || deps.signal?.aborted) return code;
    const handed = await withRetry(() => client.agent.next.mutate(), { reconnectSeconds: current.reconnectSeconds }).catch(() => ({ next: null }));
    if (!handed.next) return code;
    current = { ...current, token: handed.next.token };
    handedOver = handed.next.assignment;
  }
}

function setupFailed(ctx: AttemptContext, what: string, error: unknown): Promise<number> {
  const message = `${what}: ${describeError(error)}`;
  ctx.log.error(message);
  ctx.forwarder?.system(message);
  return reportFailure(ctx, { message, name: errorName(error), code: AGENT_ERROR_CODES.setupFailed }, EXIT_CODES.platformFailed);
}

async function reportFailure(ctx: AttemptContext, error: ErrorInfo, exitCode: number = EXIT_CODES.taskFailed): Promise<number> {
  if (ctx.signal.aborted) return EXIT_CODES.stopped;
  // The log is complete before the end is reported: an ended attempt's token appends nothing more.
  await ctx.forwarder?.flush();
  try {
    await ctx.call("fail", () => ctx.client.agent.fail.mutate({ error }));
  } catch (reportError) {
    ctx.log.error({ error: describeError(reportError), failure: error.message }, "could not report the failure");
    if (isServerUnreachable(reportError) || !(await reportRefusedFailure(ctx, error, reportError))) return EXIT_CODES.platformFailed;
  }
  ctx.log.info({ code: error.code, message: error.message }, "attempt failed");
  return exitCode;
}

/**
 * The server answered a failure report with an error: report that, with the failure's message cut short and
 * its control characters escaped, so the attempt still fails now, as itself, and its retries apply.
 */
async function reportRefusedFailure(ctx: AttemptContext, error: ErrorInfo, refusal: unknown): Promise<boolean> {
  const printable = JSON.stringify(error.message.slice(0, 2_000));
  const message = `the task failed, but the server refused its error report (${describeError(refusal)}); the error began: ${printable}`;
  try {
    await ctx.call("fail", () => ctx.client.agent.fail.mutate({ error: { message, name: error.name ?? "Error", code: AGENT_ERROR_CODES.reportRefused } }));
    return true;
  } catch (again) {
    ctx.log.error({ error: describeError(again) }, "the server refused the failure report twice");
    return false;
  }
}

/** Runs the task, treating an error thrown from a callback it scheduled (uncaught) as the task's failure. */
function runTrapped<T>(fn: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onUncaught = (error: unknown) => reject(error);
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    Promise.resolve()
      .then(fn)
      .then(resolve, reject)
      .finally(() => {
        process.off("uncaughtException", onUncaught);
        process.off("unhandledRejection", onUncaught);
      });
  });
}

function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) return { message: error.message, name: error.name, ...(error.stack ? { stack: error.stack } : {}) };
  let message: string;
  try {
    message = typeof error === "string" ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    message = String(error);
  }
  return { message: `non-Error thrown: ${message}`, name: typeof error };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

/** Prints a task error the way Node would for a crash, so it shows in the forwarded stderr too. */
function printTaskError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : errorInfo(error).message;
  process.stderr.write(`${text}\n`);
}

/** HTTP access to the blobs behind the server's signed URLs. */
class BlobHttp {
  private readonly endpoint: URL;

  constructor(private readonly config: AgentConfig) {
    this.endpoint = new URL(`${config.endpoint}/`);
  }

  /** Signed URLs may be absolute or relative to the endpoint. */
  resolve(url: string): string {
    return new URL(url, this.endpoint).href;
  }

  async getBytes(url: string): Promise<Buffer> {
    const response = await fetchOrUnavailable(url, { headers: this.headers(url) });
    if (response.status !== 200) throw await httpError("GET", url, response);
    return Buffer.from(await response.arrayBuffer());
  }

  async getJsonObject(url: string): Promise<Record<string, unknown>> {
    const bytes = await this.getBytes(url);
    const value: unknown = JSON.parse(bytes.toString("utf8"));
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error(`GET ${url} did not return a JSON object`);
    }
    return value as Record<string, unknown>;
  }

  async putJson(url: string, body: string): Promise<void> {
    const response = await fetchOrUnavailable(url, {
      method: "PUT",
      headers: { ...this.headers(url), "content-type": "application/json" },
      body,
    });
    if (response.status === 409) {
      await response.body?.cancel();
      throw new Error("the server already holds a different output for this attempt (409 Conflict)");
    }
    if (response.status !== 200 && response.status !== 201 && response.status !== 204) throw await httpError("PUT", url, response);
    await response.body?.cancel();
  }

  /** The agent token goes only to the server itself, never to another host a signed URL may point at. */
  private headers(url: string): Record<string, string> {
    return new URL(url).origin === this.endpoint.origin ? { authorization: `Bearer ${this.config.token}` } : {};
  }
}

async function httpError(method: string, url: string, response: Response): Promise<Error> {
  const text = (await response.text().catch(() => "")).slice(0, 300);
  return new Error(`${method} ${new URL(url).pathname} answered ${response.status}${text ? `: ${text}` : ""}`);
}
