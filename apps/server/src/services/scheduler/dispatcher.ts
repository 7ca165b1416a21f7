/**
 * Launches queued attempts on the executor, at most `maxParallel` agents at once, in the order their
 * transactions committed. Each launch first claims its attempt in the store (a fresh agent token, only its
 * hash kept), so an attempt aborted while it waited is never started. A warm agent that finished an attempt
 * is handed the next queued one of its execution instead of a new process.
 */
import { randomBytes } from "node:crypto";

import type { AttemptStatus, ErrorInfo, TaskSpec } from "@drydock/contracts";
import { TERMINAL_ATTEMPT_STATUSES } from "@drydock/contracts";

import type { Db } from "../../db/database.js";
import type { Executor } from "../../executor/executor.js";
import type { Logger } from "../../logger.js";
import { requireExecutionOfAttempt } from "../ids.js";
import { hashToken } from "../agent-token.js";
import { mayPause } from "../pause-points.js";
import { ACTIVE_ATTEMPT } from "./open-statuses.js";
import type { LaunchQueue } from "./transaction.js";
import type { WorkflowCache } from "./workflow-cache.js";

/** What the dispatcher reports back to the attempts' lifecycle. */
export interface DispatchReports {
  /** The executor could not start the attempt's agent. */
  launchFailed(attemptId: string, error: ErrorInfo): Promise<void>;
  /** A warm agent took over the attempt: it runs from now. */
  handedOver(attemptId: string, pid: number): Promise<void>;
}

/** The replica this server runs as, once it has joined (see replicas.ts): it launches only its own attempts. */
export interface Owner {
  replica: string | undefined;
}

export class Dispatcher implements LaunchQueue {
  private readonly queue: string[] = [];
  /** What `queue` holds, so an attempt both enqueued and found by a takeover is launched once. */
  private readonly queued = new Set<string>();
  /** Attempts whose agent runs (or is being launched): each holds one of the `maxParallel` slots. */
  private readonly active = new Set<string>();
  private stopped = false;

  constructor(
    private readonly deps: {
      db: Db;
      executor: Executor;
      log: Logger;
      workflows: WorkflowCache;
      maxParallel: number;
      reports: DispatchReports;
      owner: Owner;
    },
  ) {}

  /** True once the server is stopping: nothing more is launched or handed over. */
  get stopping(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
  }

  enqueue(ids: readonly string[]): void {
    for (const id of ids) this.add(id);
    this.pump();
  }

  /** An attempt left queued by an ended replica: it launches with the next pump. */
  restore(id: string): void {
    this.add(id);
  }

  private add(id: string): void {
    if (this.queued.has(id) || this.active.has(id)) return;
    this.queued.add(id);
    this.queue.push(id);
  }

  /** An agent adopted from a previous server holds a slot, as if launched here. */
  occupy(id: string): void {
    this.active.add(id);
  }

  /** The attempt's agent is gone: its slot goes to the next queued attempt. */
  release(id: string): void {
    this.active.delete(id);
    this.pump();
  }

  /** One pass, so aborting a large fan-out does not scan the queue once per element. */
  drop(ids: readonly string[]): void {
    if (ids.length === 0) return;
    const ended = new Set(ids);
    let kept = 0;
    for (const id of this.queue) if (!ended.has(id)) this.queue[kept++] = id;
    this.queue.length = kept;
    for (const id of ids) this.queued.delete(id);
  }

  pump(): void {
    while (!this.stopped && this.active.size < this.deps.maxParallel && this.queue.length > 0) {
      const id = this.queue.shift();
      if (id === undefined) break;
      this.queued.delete(id);
      this.active.add(id);
      void this.launch(id).catch(async (err: unknown) => {
        this.active.delete(id);
        this.deps.log.error({ err, attemptId: id }, "could not launch agent");
        await this.deps.reports.launchFailed(id, {
          code: "AGENT_LAUNCH_FAILED",
          message: `could not start the agent: ${String(err)}`,
        });
        this.pump();
      });
    }
  }

  /**
   * Gives an attempt to an agent: a fresh attempt-scoped token (only its hash is stored) and the agent
   * process that runs it. A queued attempt can be claimed; one already this agent's, while it has not
   * ended, gets a new token (its first answer was lost). Undefined otherwise (aborted meanwhile, taken over by
   * another replica, …): a replica launches only attempts it owns, so no attempt is launched by two.
   */
  private async claim(
    id: string,
    agent: { name: string; pid: number | null },
    which: "queued" | "own" = "queued",
  ): Promise<string | undefined> {
    const token = randomBytes(24).toString("base64url");
    let update = this.deps.db
      .updateTable("attempts")
      .set({
        token_hash: hashToken(token),
        heartbeat_at: new Date(),
        agent: agent.name,
        pid: agent.pid,
      })
      .where("id", "=", id);
    const owner = this.deps.owner.replica;
    if (owner === undefined) return undefined;
    update = update.where("replica", "=", owner);
    update =
      which === "queued"
        ? update.where("status", "=", "QUEUED")
        : update.where("agent", "=", agent.name).where("status", "in", ACTIVE_ATTEMPT);
    const row = await update.returning("id").executeTakeFirst();
    return row ? token : undefined;
  }

  private async launch(id: string): Promise<void> {
    const token = await this.claim(id, { name: id, pid: null });
    if (!token) {
      this.active.delete(id);
      this.pump();
      return;
    }
    const { task, pauses } = await this.taskOf(id);
    const { pid } = await this.deps.executor.launch({
      attemptId: id,
      executionId: requireExecutionOfAttempt(id),
      token,
      task,
      ...(pauses ? { pauses } : {}),
    });
    await this.deps.db.updateTable("attempts").set({ pid }).where("id", "=", id).execute();
  }

  /**
   * The task an attempt runs, as registered (its image and resources tell the executor where to run it), and
   * whether the attempt may pause (onFailure "pause", or a pause point).
   */
  private async taskOf(id: string): Promise<{ task: TaskSpec; pauses: boolean }> {
    const row = await this.deps.db
      .selectFrom("attempts as a")
      .innerJoin("node_executions as n", (join) =>
        join.onRef("n.execution_id", "=", "a.execution_id").onRef("n.node_id", "=", "a.node_id"),
      )
      .innerJoin("executions as e", "e.id", "a.execution_id")
      .select([
        "n.task",
        "n.node_id",
        "e.project",
        "e.workflow",
        "e.version",
        "e.debug_of",
        "e.pause_before",
      ])
      .where("a.id", "=", id)
      .executeTakeFirstOrThrow();
    const task = (await this.deps.workflows.workflowOf(row)).tasks.get(row.task);
    if (!task) throw new Error(`attempt ${id}: task ${row.task} is not in its workflow version`);
    return { task, pauses: mayPause(task, row.pause_before, row.node_id) };
  }

  /**
   * A warm agent has reported `attemptId`: hand it the next queued attempt of the same execution (so a
   * fan-out does not pay a process start per element), marked started, and return it with its token, or null.
   * Abort and timeout still end exactly the attempt the process runs: it runs one at a time.
   */
  async handOver(attemptId: string): Promise<{ attemptId: string; token: string } | null> {
    if (this.stopped || !this.deps.executor.warmAgents) return null;
    const current = await this.deps.db
      .selectFrom("attempts")
      .select(["execution_id", "status", "pid", "agent", "handed_to"])
      .where("id", "=", attemptId)
      .executeTakeFirst();
    if (!current || !TERMINAL_ATTEMPT_STATUSES.includes(current.status as AttemptStatus))
      return null;
    const agent = { name: current.agent ?? attemptId, pid: current.pid };
    const next = current.handed_to
      ? // The agent asks again: the answer was lost (a server restart). Same attempt, fresh token.
        await this.claimAgain(current.handed_to, agent)
      : await this.claimNextOf(current.execution_id, attemptId, agent);
    if (!next) return null;
    if (!this.deps.executor.handOver(attemptId, next.attemptId) && agent.pid !== null)
      await this.deps.executor.adopt(next.attemptId, agent.pid, agent.name);
    this.active.delete(attemptId);
    this.active.add(next.attemptId);
    if (agent.pid !== null) await this.deps.reports.handedOver(next.attemptId, agent.pid);
    return next;
  }

  private async claimAgain(
    handedTo: string,
    agent: { name: string; pid: number | null },
  ): Promise<{ attemptId: string; token: string } | null> {
    const token = await this.claim(handedTo, agent, "own");
    return token ? { attemptId: handedTo, token } : null;
  }

  /** Takes the execution's next queued attempt that can still be claimed, and records it as handed over from `from`. */
  private async claimNextOf(
    executionId: string,
    from: string,
    agent: { name: string; pid: number | null },
  ): Promise<{ attemptId: string; token: string } | null> {
    const prefix = `${executionId}.`;
    for (;;) {
      const index = this.queue.findIndex((id) => id.startsWith(prefix));
      if (index < 0) return null;
      const [next] = this.queue.splice(index, 1) as [string];
      this.queued.delete(next);
      const token = await this.claim(next, agent);
      if (!token) continue;
      await this.deps.db
        .updateTable("attempts")
        .set({ handed_to: next })
        .where("id", "=", from)
        .execute();
      return { attemptId: next, token };
    }
  }
}
