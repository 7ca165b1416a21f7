/**
 * The scheduler as the rest of the server sees it: one object wiring its parts (scheduler/*), so callers
 * keep one name for starting, reporting on and aborting executions.
 */
import type { ErrorInfo, JsonValue } from "@drydock/contracts";
import type { Kysely } from "kysely";

import type { Db } from "../db/database.js";
import type { Database, ExecutionRow } from "../db/schema.js";
import type { ServerConfig } from "../env.js";
import type { Executor } from "../executor/executor.js";
import type { Logger } from "../logger.js";
import type { EventBus } from "./event-bus.js";
import type { FailureStatus } from "./scheduler/attempt-lifecycle.js";
import { AttemptLifecycle } from "./scheduler/attempt-lifecycle.js";
import { Dispatcher } from "./scheduler/dispatcher.js";
import type { NewExecution } from "./scheduler/execution-lifecycle.js";
import { ExecutionLifecycle } from "./scheduler/execution-lifecycle.js";
import type { LoadedWorkflow } from "./scheduler/loaded-workflow.js";
import { recoverOpenAttempts } from "./scheduler/restart-recovery.js";
import { Sweeper } from "./scheduler/sweeper.js";
import { ExecutionTransactions } from "./scheduler/transaction.js";
import type { Tx } from "./scheduler/transaction.js";
import { WorkflowCache } from "./scheduler/workflow-cache.js";

/**
 * Walks each execution's DAG: creates attempts for nodes whose upstream succeeded, expands fan-outs,
 * applies retries and timeouts, and finishes executions. Every decision is taken in a transaction that
 * holds the execution's row lock, so concurrent completions and a restarted server never run a node twice.
 */
export class Scheduler {
  private readonly workflows: WorkflowCache;
  private readonly dispatcher: Dispatcher;
  private readonly executions: ExecutionLifecycle;
  private readonly attempts: AttemptLifecycle;
  private readonly sweeper: Sweeper;

  constructor(
    private readonly deps: {
      db: Db;
      executor: Executor;
      bus: EventBus;
      log: Logger;
      config: Pick<ServerConfig, "maxParallel" | "heartbeatTimeoutSeconds" | "lostAttemptRetries">;
    },
  ) {
    const { db, executor, bus, log, config } = deps;
    this.workflows = new WorkflowCache(db);
    // The dispatcher reports to the attempts' lifecycle, which is built on the transactions that feed the dispatcher.
    this.dispatcher = new Dispatcher({
      db,
      executor,
      log,
      workflows: this.workflows,
      maxParallel: config.maxParallel,
      reports: {
        launchFailed: (id, error) => this.attemptFailed(id, "FAILED", error),
        handedOver: (id, pid) => this.attemptStarted(id, pid),
      },
    });
    const transactions = new ExecutionTransactions({ db, bus, executor, queue: this.dispatcher });
    this.executions = new ExecutionLifecycle({ db, bus, workflows: this.workflows, transactions });
    this.attempts = new AttemptLifecycle({
      db,
      log,
      config,
      workflows: this.workflows,
      transactions,
      slots: this.dispatcher,
    });
    this.sweeper = new Sweeper({
      db,
      executor,
      log,
      config,
      attemptFailed: (id, status, error) => this.attemptFailed(id, status, error),
    });
    executor.onExit((id, exit) => void this.attempts.agentExited(id, exit));
  }

  /** Adopts agents that outlived a previous server, re-queues what never launched, and resumes every DAG. */
  async start(): Promise<void> {
    const { db, executor, log } = this.deps;
    await recoverOpenAttempts({
      db,
      executor,
      log,
      dispatcher: this.dispatcher,
      attemptFailed: (id, status, error) => this.attemptFailed(id, status, error),
    });
    await this.executions.resumeRunning();
    this.sweeper.start();
    this.dispatcher.pump();
  }

  /** Stops scheduling and ends every agent this server runs (they are re-run after the next start). */
  async stop(): Promise<void> {
    this.dispatcher.stop();
    await this.sweeper.stop();
    await this.deps.executor.shutdown();
  }

  /** The workflow an execution walks: its registered version, or for a debug run the one node it re-runs. */
  workflowOf(
    exec: Pick<ExecutionRow, "project" | "workflow" | "version" | "debug_of">,
    q?: Kysely<Database>,
  ): Promise<LoadedWorkflow> {
    return this.workflows.workflowOf(exec, q);
  }

  /**
   * Creates the execution's nodes and starts the DAG; `debugOf` makes it a debug run of that node, `parent`
   * a recover or fork. `prepare` writes what it needs first, in the same transaction.
   */
  startExecution(exec: NewExecution, prepare?: (tx: Tx) => Promise<void>): Promise<void> {
    return this.executions.startExecution(exec, prepare);
  }

  abort(executionId: string): Promise<void> {
    return this.executions.abort(executionId);
  }

  attemptStarted(id: string, pid: number): Promise<void> {
    return this.attempts.attemptStarted(id, pid);
  }

  heartbeat(id: string): Promise<boolean> {
    return this.attempts.heartbeat(id);
  }

  attemptSucceeded(id: string, outputsSha256: string, outputs: JsonValue): Promise<void> {
    return this.attempts.attemptSucceeded(id, outputsSha256, outputs);
  }

  /** Records a failed attempt and either retries the node or fails it (and with it, the execution). */
  attemptFailed(id: string, status: FailureStatus, error: ErrorInfo): Promise<void> {
    return this.attempts.attemptFailed(id, status, error);
  }

  /** A warm agent has reported `attemptId`: the next queued attempt of its execution, with its token, or null. */
  handOver(attemptId: string): Promise<{ attemptId: string; token: string } | null> {
    return this.dispatcher.handOver(attemptId);
  }
}
