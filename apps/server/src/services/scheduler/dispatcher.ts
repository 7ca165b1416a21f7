/**
 * Launches queued attempts on the executor, at most `maxParallel` agents at once, in the order their
 * transactions committed. Each launch first claims its attempt in the store (a fresh agent token, only its
 * hash kept), so an attempt aborted while it waited is never started. A warm agent that finished an attempt
 * is handed the next queued one of its execution instead of a new process.
 */
import { randomBytes } from "node:crypto";

import type { AttemptStatus, ErrorInfo, TaskSpec } from "@drydock/contracts";
import { TERMINAL_ATTEMPT_STATUSES } from "@drydock/contracts";

import type { Kysely } from "kysely";
import { sql } from "kysely";

import type { Db } from "../../db/database.js";
import type { AttemptRow, Database } from "../../db/schema.js";
import type { Executor } from "../../executor/executor.js";
import type { Logger } from "../../logger.js";
import { requireExecutionOfAttempt } from "../ids.js";
import { hashToken } from "../agent-token.js";
import type { AgentTokens } from "../agent-token.js";
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
      /** Told of every token minted, so the agent's first call with it needs no lookup. */
      tokens?: AgentTokens;
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
    agent: AgentRef,
    which: "queued" | "own" = "queued",
  ): Promise<{ token: string; row: ClaimedRow } | undefined> {
    const token = randomBytes(24).toString("base64url");
    const hash = hashToken(token);
    let update = this.deps.db
      .updateTable("attempts")
      .set({
        token_hash: hash,
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
    const row = await update.returning(["id", "node_id", "number"]).executeTakeFirst();
    if (!row) return undefined;
    // Rolled back, the token was never given to anyone: it names its attempt all the same.
    this.deps.tokens?.remember(hash, id);
    return { token, row };
  }

  private async launch(id: string): Promise<void> {
    const token = (await this.claim(id, { name: id, pid: null }))?.token;
    if (!token) {
      this.active.delete(id);
      this.pump();
      return;
    }
    const { task, pauses, bundle } = await this.taskOf(id);
    const { pid } = await this.deps.executor.launch({
      attemptId: id,
      executionId: requireExecutionOfAttempt(id),
      token,
      task,
      bundle,
      ...(pauses ? { pauses } : {}),
    });
    await this.deps.db.updateTable("attempts").set({ pid }).where("id", "=", id).execute();
  }

  /**
   * The task an attempt runs, as registered (its image and resources tell the executor where to run it),
   * whether the attempt may pause (onFailure "pause", or a pause point), and its code bundle's sha256.
   */
  private async taskOf(id: string): Promise<{ task: TaskSpec; pauses: boolean; bundle: string }> {
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
    const workflow = await this.deps.workflows.workflowOf(row);
    const task = workflow.tasks.get(row.task);
    if (!task) throw new Error(`attempt ${id}: task ${row.task} is not in its workflow version`);
    return { task, pauses: mayPause(task, row.pause_before, row.node_id), bundle: workflow.bundle };
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
    agent: AgentRef,
  ): Promise<{ attemptId: string; token: string } | null> {
    const claimed = await this.claim(handedTo, agent, "own");
    return claimed ? { attemptId: handedTo, token: claimed.token } : null;
  }

  /** Takes the execution's next queued attempt that can still be claimed, and records it as handed over from `from`. */
  private async claimNextOf(
    executionId: string,
    from: string,
    agent: AgentRef,
  ): Promise<{ attemptId: string; token: string } | null> {
    for (let next = this.takeQueuedOf(executionId); next; next = this.takeQueuedOf(executionId)) {
      const claimed = await this.claim(next, agent);
      if (!claimed) continue;
      await this.deps.db
        .updateTable("attempts")
        .set({ handed_to: next })
        .where("id", "=", from)
        .execute();
      return { attemptId: next, token: claimed.token };
    }
    return null;
  }

  /**
   * The hand-overs decided in the transaction that records the successes of the agents' attempts `froms`:
   * for each, the execution's next queued attempt, claimed for the same agent in `tx` — all in one statement,
   * and recorded started with `startedValues` where it has them (the caller records `handed_to` and the
   * nodes). Once that commits, `handedOver` gives each agent's slot to its new attempt; if it does not,
   * `putBack` queues them again. Null for an agent left without (none queued, or this executor keeps no agent
   * warm). `fresh`: attempts `tx` itself queued (not yet in the queue, nor this replica's), taken first, in
   * order; those claimed are taken out of it, so the caller does not queue them.
   */
  async claimNextWithin(
    tx: Kysely<Database>,
    froms: Pick<AttemptRow, "id" | "execution_id" | "agent" | "pid">[],
    startedValues: (attemptId: string) => StartedValues | undefined,
    fresh: string[] = [],
  ): Promise<(HandOver | null)[]> {
    const handed: (HandOver | null)[] = froms.map(() => null);
    const owner = this.deps.owner.replica;
    if (this.stopped || !this.deps.executor.warmAgents || owner === undefined) return handed;
    let waiting = froms.map((_, i) => i);
    while (waiting.length > 0) {
      const picks: {
        i: number;
        id: string;
        token: string;
        agent: AgentRef;
        started?: StartedValues;
        fresh: boolean;
      }[] = [];
      for (const i of waiting) {
        const from = froms[i] as (typeof froms)[number];
        const made = fresh.shift();
        const id = made ?? this.takeQueuedOf(from.execution_id);
        if (id === undefined) break;
        const agent = { name: from.agent ?? from.id, pid: from.pid };
        const token = randomBytes(24).toString("base64url");
        // Its agent runs: the claim records it started too, where the caller knows its deadline.
        const started = agent.pid === null ? undefined : startedValues(id);
        picks.push({
          i,
          id,
          token,
          agent,
          fresh: made !== undefined,
          ...(started ? { started } : {}),
        });
      }
      if (picks.length === 0) break;
      const now = new Date();
      const values = picks.map(
        (p) => sql`(${p.id}, ${hashToken(p.token)}, ${p.agent.name}, ${p.agent.pid}::integer,
          ${p.started?.status ?? null}::text, ${p.started?.started_at ?? null}::timestamptz,
          ${p.started?.deadline_at ?? null}::timestamptz)`,
      );
      // Each agent's own token; the claim is the same as a launch's (claim): queued, and this replica's (or
      // made by this very transaction, so nobody's yet: the claim makes it this replica's).
      const made = picks.filter((p) => p.fresh).map((p) => p.id);
      const { rows } = await sql<ClaimedRow>`update attempts as a set token_hash = v.hash,
          replica = ${owner}, heartbeat_at = ${now}, agent = v.agent, pid = v.pid, status = coalesce(v.status, a.status),
          started_at = coalesce(v.started_at, a.started_at),
          deadline_at = case when v.status is null then a.deadline_at else v.deadline_at end
        from (values ${sql.join(values)}) as v(id, hash, agent, pid, status, started_at, deadline_at)
        where a.id = v.id and a.id in (${sql.join(picks.map((p) => p.id))})
          and a.status = 'QUEUED'
          and (a.replica = ${owner} ${made.length > 0 ? sql`or a.id in (${sql.join(made)})` : sql``})
        returning a.id, a.node_id, a.number`.execute(tx);
      const claimed = new Map(rows.map((row) => [row.id, row]));
      const unclaimed: number[] = [];
      for (const { i, id, token, agent, started } of picks) {
        const row = claimed.get(id);
        // Aborted meanwhile, or another replica's: that agent takes the next one.
        if (!row) unclaimed.push(i);
        else {
          // Rolled back, the token was never given to anyone: it names its attempt all the same.
          this.deps.tokens?.remember(hashToken(token), id);
          handed[i] = { attemptId: id, token, agent, row, started: started !== undefined };
        }
      }
      waiting = unclaimed;
    }
    return handed;
  }

  /** Takes the execution's first queued attempt out of the queue (for a hand-over). */
  private takeQueuedOf(executionId: string): string | undefined {
    const prefix = `${executionId}.`;
    const index = this.queue.findIndex((id) => id.startsWith(prefix));
    if (index < 0) return undefined;
    const [next] = this.queue.splice(index, 1) as [string];
    this.queued.delete(next);
    return next;
  }

  /** The hand-over `claimNextWithin` decided has committed: the agent runs `next` now, in the slot `from` held. */
  async handedOver(from: string, next: HandOver): Promise<void> {
    this.active.delete(from);
    this.active.add(next.attemptId);
    if (!this.deps.executor.handOver(from, next.attemptId) && next.agent.pid !== null)
      await this.deps.executor.adopt(next.attemptId, next.agent.pid, next.agent.name);
  }

  /** The transaction of a hand-over did not commit: its attempt waits in the queue again, first in line. */
  putBack(next: HandOver): void {
    if (this.queued.has(next.attemptId) || this.active.has(next.attemptId)) return;
    this.queued.add(next.attemptId);
    this.queue.unshift(next.attemptId);
    this.pump();
  }
}

/** The agent process an attempt is claimed for: its name (the attempt it was started for) and pid. */
export interface AgentRef {
  name: string;
  pid: number | null;
}

/** What a claim returns of the attempt it took. */
type ClaimedRow = Pick<AttemptRow, "id" | "node_id" | "number">;

/** An attempt claimed for a warm agent inside a transaction (claimNextWithin). */
export interface HandOver {
  attemptId: string;
  token: string;
  agent: AgentRef;
  row: ClaimedRow;
  /** Whether the claim recorded the attempt started (its node's status is the caller's to set). */
  started: boolean;
}

/** What a claim records of an attempt its (warm) agent starts at once. */
export interface StartedValues {
  status: "RUNNING";
  started_at: Date;
  deadline_at: Date | null;
}
