/**
 * One task attempt, start to finish: the assignment, `agent.started`, the heartbeat and the task's log kept
 * going while the task runs (run-task.ts), and a stop — the server's, or SIGTERM — turned into the exit code
 * once what the attempt started (an IDE session) has been torn down.
 */
import { setTimeout as sleep } from "node:timers/promises";

import type { AttemptAssignment } from "@drydock/contracts";
import type { Logger } from "pino";

import { createAgentClient, createServerCall, describeError } from "../client.js";
import type { AgentClient, ServerCall } from "../client.js";
import type { AgentConfig } from "../env.js";
import { Heartbeat } from "../heartbeat.js";
import { SessionBeat } from "../ide/session-beat.js";
import { LogForwarder } from "../log-forwarder.js";
import type { LogForwarderOptions } from "../log-forwarder.js";
import { createAgentLogger } from "../logger.js";
import type { PrestartedRunner } from "../paused/runner-process.js";
import { AttemptStop } from "./attempt-stop.js";
import type { HandOverSlot } from "./context.js";
import { EXIT_CODES } from "./exit-codes.js";
import { runAssignedTask } from "./run-task.js";

export interface AttemptDeps {
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
  /** A paused-task runner started with the agent (main.ts): taken if this attempt may pause, else given up. */
  prestarted?: PrestartedRunner;
  /** A warm agent's: where `agent.complete`'s hand-over lands (attempt-loop.ts). */
  handOver?: HandOverSlot;
}

/** How long a stopped attempt waits for its teardowns (main's hard exit comes later; the executor's SIGKILL after 5 s). */
const TEARDOWN_LIMIT_MS = 4_000;

/**
 * Runs the attempt the agent token is scoped to and resolves to the process exit code (see EXIT_CODES).
 * @example process.exit(await runOneAttempt(loadConfig()));
 */
export async function runOneAttempt(config: AgentConfig, deps: AttemptDeps = {}): Promise<number> {
  const logger = deps.logger ?? createAgentLogger(config.logLevel);
  const client = deps.client ?? createAgentClient(config);
  const call = createServerCall(config.reconnectSeconds, logger);
  const begun = await beginAttempt(client, call, logger, deps);
  if (typeof begun === "number") {
    deps.prestarted?.dispose();
    return begun;
  }
  const { assignment, log } = begun;

  const stop = new AttemptStop(deps.signal);
  const forwarder =
    deps.forwardLogs === false
      ? undefined
      : new LogForwarder((lines) => call("log", () => client.agent.log.mutate({ lines })), {
          ...(typeof deps.forwardLogs === "object" ? deps.forwardLogs : {}),
          onSendError: (error, lines) =>
            log.warn({ error: describeError(error), lines }, "could not forward task log lines"),
        });
  const beat = new SessionBeat();
  const heartbeat = new Heartbeat(() => beat.sendNow(client), {
    intervalMs: config.heartbeatMs,
    reconnectSeconds: config.reconnectSeconds,
    logger: log,
    onStop: (reason) => stop.halt(EXIT_CODES.stopped, reason),
  });

  forwarder?.start();
  heartbeat.start();
  try {
    const teardowns = new Set<Promise<unknown>>();
    const code = await Promise.race([
      runAssignedTask({
        config,
        client,
        assignment,
        call,
        log,
        forwarder,
        signal: stop.signal,
        beat,
        teardowns,
        ...(deps.prestarted ? { prestarted: deps.prestarted } : {}),
        ...(deps.handOver ? { handOver: deps.handOver } : {}),
      }),
      stop.stopped,
    ]);
    if (!stop.signal.aborted) return code;
    // The task itself may never return, but what the agent started for it (code-server) must end first.
    await Promise.race([Promise.allSettled(teardowns), sleep(TEARDOWN_LIMIT_MS)]);
    const reason = describeError(stop.signal.reason);
    log.warn({ reason }, "attempt stopped");
    forwarder?.system(`attempt stopped: ${reason}`);
    return stop.code;
  } finally {
    // Taken by a paused attempt, it has ended with it; otherwise it is of no use now.
    deps.prestarted?.dispose();
    heartbeat.stop();
    stop.dispose();
    // When stopping, do not wait long for a server that may be gone.
    await forwarder?.stop(stop.signal.aborted ? { timeoutMs: 2_000 } : {});
  }
}

/** The assignment (asked for, or handed over) and `agent.started`; or the exit code when the server refused either. */
async function beginAttempt(
  client: AgentClient,
  call: ServerCall,
  logger: Logger,
  deps: AttemptDeps,
): Promise<{ assignment: AttemptAssignment; log: Logger } | number> {
  let assignment: AttemptAssignment;
  try {
    assignment =
      deps.handedOver ?? (await call("assignment", () => client.agent.assignment.query()));
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
    if (!deps.handedOver)
      await call("started", () => client.agent.started.mutate({ pid: deps.pid ?? process.pid }));
  } catch (error) {
    log.error({ error: describeError(error) }, "the server refused agent.started");
    return EXIT_CODES.platformFailed;
  }
  log.info(
    { attemptNumber: assignment.attemptNumber, bundle: assignment.bundle.sha256 },
    "attempt started",
  );
  return { assignment, log };
}
