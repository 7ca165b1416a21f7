/**
 * What agents and executors report about attempts, recorded in the attempt's execution transaction: an
 * attempt started, is alive, succeeded, failed (retried or failing its node), or its agent exited without
 * a word. Each report moves the DAG on (see dag.ts); a report for an attempt that already ended is refused
 * or, when it repeats what is recorded, accepted once.
 */
import type { ErrorInfo, JsonValue, SessionEndReason } from "@drydock/contracts";
import {
  RESUME_FAIL_CODE,
  RESUME_ORIGINAL_CODE,
  SESSION_IDLE_CODE,
  SESSION_UNOPENED_CODE,
} from "@drydock/contracts";

import type { Db } from "../../db/database.js";
import type { AttemptRow, ExecutionRow } from "../../db/schema.js";
import type { ServerConfig } from "../../env.js";
import { ServerErrors } from "../../errors.js";
import type { AttemptExit } from "../../executor/executor.js";
import type { Logger } from "../../logger.js";
import { requireExecutionOfAttempt } from "../ids.js";
import { advance, createAttempt, endSessions, errorJson, nodeEvent, setNode } from "./dag.js";
import type { Dispatcher } from "./dispatcher.js";
import { deadline, Successes } from "./successes.js";
import type { SuccessRecorded, SuccessReport } from "./successes.js";
import { ACTIVE_ATTEMPT } from "./open-statuses.js";
import type { Effects, ExecutionTransactions, Tx } from "./transaction.js";
import type { WorkflowCache } from "./workflow-cache.js";

export type FailureStatus = "FAILED" | "TIMED_OUT" | "LOST";

/**
 * Failures that a person's choice, or absence, decides rather than the task's retries: how the session
 * ended, and whether the node runs again. A session that ended idle or unopened is never retried: its user
 * walked away, or never came, and a retry would open an IDE for nobody. On a paused task, a person chose to
 * run the original code again (a new attempt, whatever the retries) or to end the node as failed.
 */
const DECIDED_FAILURES: Record<string, { session: SessionEndReason; retry: boolean }> = {
  [SESSION_IDLE_CODE]: { session: "idle", retry: false },
  [SESSION_UNOPENED_CODE]: { session: "unopened", retry: false },
  [RESUME_ORIGINAL_CODE]: { session: "resumed", retry: true },
  [RESUME_FAIL_CODE]: { session: "resumed", retry: false },
};

export class AttemptLifecycle {
  private readonly successes: Successes;

  constructor(
    private readonly deps: {
      db: Db;
      log: Logger;
      config: Pick<ServerConfig, "lostAttemptRetries">;
      workflows: WorkflowCache;
      transactions: ExecutionTransactions;
      slots: Pick<
        Dispatcher,
        "release" | "stopping" | "claimNextWithin" | "handedOver" | "putBack"
      >;
    },
  ) {
    this.successes = new Successes({
      workflows: deps.workflows,
      transactions: deps.transactions,
      slots: deps.slots,
      started: (tx, exec, fx, attempt, pid) => this.started(tx, exec, fx, attempt, pid),
    });
  }

  async attemptStarted(id: string, pid: number): Promise<void> {
    const executionId = requireExecutionOfAttempt(id);
    await this.deps.transactions.transact(executionId, async (tx, exec, fx) => {
      const attempt = await openAttempt(tx, id);
      if (attempt.status === "RUNNING") return;
      if (attempt.status !== "QUEUED") throw ServerErrors.attemptEnded(id, attempt.status);
      await this.started(tx, exec, fx, attempt, pid);
    });
  }

  /** Records a queued attempt running in the agent `pid`: the attempt and its node, its deadline from now. */
  private async started(
    tx: Tx,
    exec: ExecutionRow,
    fx: Effects,
    attempt: Pick<AttemptRow, "id" | "node_id" | "number">,
    pid: number,
  ): Promise<void> {
    const now = new Date();
    const node = await tx
      .updateTable("node_executions")
      .set((eb) => ({ status: "RUNNING", started_at: eb.fn.coalesce("started_at", eb.val(now)) }))
      .where("execution_id", "=", exec.id)
      .where("node_id", "=", attempt.node_id)
      .returning("task")
      .executeTakeFirstOrThrow();
    const task = (await this.deps.workflows.workflowOf(exec, tx)).tasks.get(node.task);
    await tx
      .updateTable("attempts")
      .set({
        status: "RUNNING",
        pid,
        started_at: now,
        heartbeat_at: now,
        deadline_at: task ? deadline(now, task) : null,
      })
      .where("id", "=", attempt.id)
      .execute();
    fx.events.push(nodeEvent(exec.id, attempt.node_id, "RUNNING", attempt.number));
  }

  async heartbeat(id: string): Promise<boolean> {
    const row = await this.deps.db
      .updateTable("attempts")
      .set({ heartbeat_at: new Date() })
      .where("id", "=", id)
      .where("status", "in", ACTIVE_ATTEMPT)
      .returning("id")
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Records the attempt's success (see Successes: reports of one execution are recorded in batches). With
   * `handOver`, its warm agent is handed the execution's next queued attempt in the same transaction.
   */
  attemptSucceeded(
    id: string,
    outputsSha256: string,
    outputs: JsonValue,
    options: SuccessReport["options"] = {},
  ): Promise<SuccessRecorded> {
    return this.successes.report({ id, outputsSha256, outputs, options });
  }

  /** Records a failed attempt and either retries the node or fails it (and with it, the execution). */
  async attemptFailed(id: string, status: FailureStatus, error: ErrorInfo): Promise<void> {
    const executionId = requireExecutionOfAttempt(id);
    await this.deps.transactions.transact(executionId, async (tx, exec, fx) => {
      const attempt = await openAttempt(tx, id);
      if (attempt.status !== "RUNNING" && attempt.status !== "QUEUED") return;
      await tx
        .updateTable("attempts")
        .set({ status, error: errorJson(error), ended_at: new Date() })
        .where("id", "=", id)
        .execute();
      const decided = error.code ? DECIDED_FAILURES[error.code] : undefined;
      await endSessions(tx, [id], decided?.session ?? "failed");
      if (exec.status !== "RUNNING") return;
      const node = await tx
        .selectFrom("node_executions")
        .selectAll()
        .where("execution_id", "=", executionId)
        .where("node_id", "=", attempt.node_id)
        .executeTakeFirstOrThrow();
      const retry =
        decided && status !== "LOST"
          ? decided.retry
          : await this.retries(tx, attempt, node.task, exec, status);
      if (retry) {
        this.deps.log.info({ attemptId: id, status, next: attempt.number + 1 }, "retrying node");
        const how =
          status === "LOST"
            ? "was lost"
            : decided
              ? "was ended to run the original code again"
              : "failed";
        return createAttempt(tx, fx, executionId, node, attempt.number + 1, {
          ...error,
          message: `attempt ${attempt.number} ${how}: ${error.message}`,
        });
      }
      await setNode(tx, fx, executionId, node, "FAILED", { error, attempt: attempt.number });
      if (node.parent_node_id !== null) {
        const parent = { node_id: node.parent_node_id };
        await setNode(tx, fx, executionId, parent, "FAILED", {
          error: {
            ...error,
            message: `element ${node.map_index ?? "?"} (${node.node_id}) failed: ${error.message}`,
          },
        });
      }
      return advance(this.deps.workflows, tx, exec, fx);
    });
  }

  /**
   * Whether the node of a failed attempt has retries left: a lost agent up to `lostAttemptRetries` times, a
   * failure up to the task's `retries`. Attempts ended to run the original code again count as neither.
   */
  private async retries(
    tx: Tx,
    attempt: AttemptRow,
    taskName: string,
    exec: ExecutionRow,
    status: FailureStatus,
  ): Promise<boolean> {
    const task = (await this.deps.workflows.workflowOf(exec, tx)).tasks.get(taskName);
    const history = await tx
      .selectFrom("attempts")
      // The errors are read whole: `->>` would refuse one holding U+0000, which `json` keeps.
      .select(["status", "error"])
      .where("execution_id", "=", attempt.execution_id)
      .where("node_id", "=", attempt.node_id)
      .execute();
    const lost = history.filter((a) => a.status === "LOST").length;
    const failures = history.filter(
      (a) => a.status !== "LOST" && (a.error as ErrorInfo | null)?.code !== RESUME_ORIGINAL_CODE,
    ).length;
    return status === "LOST"
      ? lost <= this.deps.config.lostAttemptRetries
      : failures <= (task?.retries ?? 0);
  }

  /** The executor saw the agent end: its slot is freed, and an attempt it never reported on fails with the reason. */
  async agentExited(id: string, exit: AttemptExit): Promise<void> {
    this.deps.slots.release(id);
    if (this.deps.slots.stopping) return;
    const how = exit.signal
      ? `was killed by ${exit.signal}`
      : exit.code === null
        ? "stopped"
        : `exited with code ${exit.code}`;
    const message = `the agent ${how} before reporting a result`;
    const record = (withTail: boolean) =>
      this.attemptFailed(id, "FAILED", {
        code: "AGENT_EXITED",
        message:
          withTail && exit.tail ? `${message}; its last output:\n${exit.tail.trim()}` : message,
      });
    // Unrecorded, the attempt would wait for the heartbeat timeout and be re-run as lost, its retries ignored:
    // if the agent's last output is what the store refuses, the exit is recorded without it.
    await record(true)
      .catch(async (err: unknown) => {
        this.deps.log.warn(
          { err, attemptId: id },
          "could not record the agent's exit with its last output; recording it without",
        );
        await record(false);
      })
      .catch((err: unknown) =>
        this.deps.log.error({ err, attemptId: id }, "could not record the agent's exit"),
      );
  }
}

/** The attempt's row, locked for the rest of the transaction. */
async function openAttempt(tx: Tx, id: string): Promise<AttemptRow> {
  const attempt = await tx
    .selectFrom("attempts")
    .selectAll()
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirst();
  if (!attempt) throw ServerErrors.attemptNotFound(id);
  return attempt;
}
