/**
 * The scheduler as the rest of the server sees it: one object wiring its parts (scheduler/*), so callers
 * keep one name for starting, reporting on and aborting executions.
 */
import type { ErrorInfo, JsonValue } from "@drydock/contracts";
import type { Kysely } from "kysely";

import type { Db } from "../db/database.js";
import type { AgentTokens } from "./agent-token.js";
import type { Database, ExecutionRow } from "../db/schema.js";
import type { ServerConfig } from "../env.js";
import type { Executor } from "../executor/executor.js";
import type { Logger } from "../logger.js";
import type { EventBus } from "./event-bus.js";
import type { FailureStatus } from "./scheduler/attempt-lifecycle.js";
import type { AssignmentSource, SuccessReport } from "./scheduler/successes.js";
import { AttemptLifecycle } from "./scheduler/attempt-lifecycle.js";
import { Dispatcher } from "./scheduler/dispatcher.js";
import type { NewExecution } from "./scheduler/execution-lifecycle.js";
import { ExecutionLifecycle } from "./scheduler/execution-lifecycle.js";
import type { LoadedWorkflow } from "./scheduler/loaded-workflow.js";
import type { Owner } from "./scheduler/dispatcher.js";
import { newReplicaId, Replica } from "./scheduler/replicas.js";
import { takeOverAttempts } from "./scheduler/restart-recovery.js";
import type { TakeOverDeps } from "./scheduler/restart-recovery.js";
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
  private readonly owner: Owner = { replica: undefined };
  private replica: Replica | undefined;
  private readonly takeOverDeps: TakeOverDeps;
  /**
   * Settles once `start` has joined the replicas and taken over what ended ones left: before that, this replica
   * owns no attempt, so a warm agent asking for its next one (the server restarted under it) must wait, not be
   * told there is nothing and exit.
   */
  private readonly joined: SettledLater;

  constructor(
    private readonly deps: {
      db: Db;
      executor: Executor;
      bus: EventBus;
      log: Logger;
      config: Pick<
        ServerConfig,
        "maxParallel" | "heartbeatTimeoutSeconds" | "startTimeoutSeconds" | "lostAttemptRetries"
      >;
      /**
       * The replica's lock connection broke: other replicas may take its attempts over from now on, so this
       * server must stop (and be started again). The scheduler has stopped launching already.
       */
      onReplicaLost?: (error: Error) => void;
      /** This replica's id (newReplicaId), which the executor labels what it starts with; a new one by default. */
      replica?: string;
      /** Where the agent tokens it mints are recorded for the authenticator. */
      agentTokens?: AgentTokens;
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
      ...(deps.agentTokens ? { tokens: deps.agentTokens } : {}),
      reports: {
        launchFailed: (id, error) => this.attemptFailed(id, "FAILED", error),
        handedOver: (id, pid) => this.attemptStarted(id, pid),
      },
      owner: this.owner,
    });
    const transactions = new ExecutionTransactions({
      db,
      bus,
      executor,
      queue: this.dispatcher,
      owner: this.owner,
    });
    this.executions = new ExecutionLifecycle({ db, bus, workflows: this.workflows, transactions });
    this.attempts = new AttemptLifecycle({
      db,
      log,
      config,
      workflows: this.workflows,
      transactions,
      slots: this.dispatcher,
    });
    const attemptFailed = (id: string, status: FailureStatus, error: ErrorInfo) =>
      this.attemptFailed(id, status, error);
    this.takeOverDeps = { db, executor, log, dispatcher: this.dispatcher, attemptFailed };
    this.sweeper = new Sweeper({
      db,
      executor,
      log,
      config,
      attemptFailed,
      takeOver: () => this.takeOverEnded(false),
      exclusively: (job, pass) => this.requireReplica().exclusively(job, pass),
    });
    executor.onExit((id, exit) => void this.attempts.agentExited(id, exit));
    this.joined = settledLater();
    // A start that fails fails the calls that waited for it; with none waiting, nothing is left unhandled.
    this.joined.done.catch(() => undefined);
  }

  /**
   * Joins the server's replicas, takes over what ended replicas left open (a previous life of this server
   * among them: agents that outlived it are adopted, what never launched is queued again), and resumes every
   * DAG. From then on, each sweep also takes over the attempts of replicas that end.
   */
  async start(): Promise<void> {
    try {
      await this.join();
      this.joined.resolve();
    } catch (error) {
      this.joined.reject(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    await this.executions.resumeRunning();
    this.sweeper.start();
    this.dispatcher.pump();
  }

  private async join(): Promise<void> {
    this.replica = await Replica.join(
      this.deps.db,
      this.deps.replica ?? newReplicaId(),
      (error) => {
        this.deps.log.fatal(
          { err: error },
          "lost this replica's lock connection: scheduling stops",
        );
        this.dispatcher.stop();
        this.deps.onReplicaLost?.(error);
      },
    );
    this.owner.replica = this.replica.id;
    this.deps.log.info({ replica: this.replica.id }, "joined the server replicas");
    await this.takeOverEnded(true);
  }

  private requireReplica(): Replica {
    if (!this.replica) throw new Error("the scheduler has not started");
    return this.replica;
  }

  /** Takes over the open attempts of replicas that ended (with `unowned`, also those nobody owns). */
  private async takeOverEnded(unowned: boolean): Promise<void> {
    const replica = this.requireReplica();
    const ended = await replica.ended();
    try {
      await takeOverAttempts(
        this.takeOverDeps,
        replica.id,
        ended.map((r) => r.id),
        unowned,
      );
    } catch (error) {
      // Their rows stay: the next sweep (here or on another replica) takes over what is left.
      for (const r of ended) await r.abandon();
      throw error;
    }
    for (const r of ended) await r.release();
    if (ended.length > 0 || unowned) this.dispatcher.pump();
  }

  /**
   * Stops scheduling and ends every agent this server runs; its replica leaves, and its open attempts are
   * re-run by the next replica that takes them over (this server's next start, or another replica's sweep).
   */
  async stop(): Promise<void> {
    this.dispatcher.stop();
    await this.sweeper.stop();
    await this.deps.executor.shutdown();
    this.replica?.leave();
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

  /**
   * Records the attempt's success. With `handOver`, its warm agent is also handed the execution's next queued
   * attempt, in the same transaction, which is returned with its token (or null); for a success recorded
   * before (the report retried, its answer lost), the attempt handed over then, with a fresh token.
   * `whenRecorded` runs in the transaction, only when the success is recorded now.
   */
  async attemptSucceeded(
    id: string,
    outputsSha256: string,
    outputs: JsonValue,
    options: SuccessReport["options"] = {},
  ): Promise<HandedAttempt | null> {
    if (options.handOver) await this.joined.done;
    const { recorded, next, assignment } = await this.attempts.attemptSucceeded(
      id,
      outputsSha256,
      outputs,
      options,
    );
    if (!options.handOver) return null;
    if (!recorded) return this.dispatcher.handOver(id);
    if (!next) return null;
    return {
      attemptId: next.attemptId,
      token: next.token,
      ...(assignment ? { assignment } : {}),
    };
  }

  /** Records a failed attempt and either retries the node or fails it (and with it, the execution). */
  attemptFailed(id: string, status: FailureStatus, error: ErrorInfo): Promise<void> {
    return this.attempts.attemptFailed(id, status, error);
  }

  /** A warm agent has reported `attemptId`: the next queued attempt of its execution, with its token, or null. */
  async handOver(attemptId: string): Promise<{ attemptId: string; token: string } | null> {
    await this.joined.done;
    return this.dispatcher.handOver(attemptId);
  }
}

/** An attempt handed over to a warm agent, with its token and, when the hand-over read it, what its assignment is made of. */
export interface HandedAttempt {
  attemptId: string;
  token: string;
  assignment?: AssignmentSource;
}

/** A promise with its own `resolve` and `reject`, for settling where it is not made. */
interface SettledLater {
  done: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function settledLater(): SettledLater {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  // The executor runs at once: both are set before this returns.
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { done, resolve, reject };
}
