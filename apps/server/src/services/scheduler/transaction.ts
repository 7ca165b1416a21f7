/**
 * The one way the scheduler changes an execution: decide under the execution's row lock, act after commit.
 * Concurrent completions of one execution take turns on that lock, so a restarted or racing server never
 * runs a node twice; what they decided (events, attempts to launch, agents to end) happens only once the
 * decision is durable.
 */
import type { ExecutionEvent } from "@drydock/contracts";
import type { Transaction } from "kysely";

import type { Db } from "../../db/database.js";
import type { Database, ExecutionRow } from "../../db/schema.js";
import { ServerErrors } from "../../errors.js";
import type { Executor } from "../../executor/executor.js";
import type { EventBus } from "../event-bus.js";
import type { Owner } from "./dispatcher.js";

export type Tx = Transaction<Database>;

/** Side effects a transaction decided on, carried out once it has committed. */
export interface Effects {
  events: ExecutionEvent[];
  dispatch: string[];
  terminate: string[];
}

/** Where committed attempts go to be launched, and from where ended ones are taken back before they launch. */
export interface LaunchQueue {
  drop(ids: readonly string[]): void;
  enqueue(ids: readonly string[]): void;
}

export class ExecutionTransactions {
  constructor(
    private readonly deps: {
      db: Db;
      bus: EventBus;
      executor: Pick<Executor, "terminate">;
      queue: LaunchQueue;
      owner: Owner;
    },
  ) {}

  async transact<T>(
    executionId: string,
    fn: (tx: Tx, exec: ExecutionRow, fx: Effects) => Promise<T>,
  ): Promise<T> {
    const fx: Effects = { events: [], dispatch: [], terminate: [] };
    let project = "";
    const result = await this.deps.db.transaction().execute(async (tx) => {
      const exec = await tx
        .selectFrom("executions")
        .selectAll()
        .where("id", "=", executionId)
        .forUpdate()
        .executeTakeFirst();
      if (!exec) throw ServerErrors.executionNotFound(executionId);
      project = exec.project;
      const result = await fn(tx, exec, fx);
      await this.own(tx, fx.dispatch);
      return result;
    });
    for (const event of fx.events) this.deps.bus.publish(executionId, event);
    if (fx.events.some((e) => e.type === "execution"))
      this.deps.bus.publishListChange(project, executionId);
    this.deps.queue.drop(fx.terminate);
    await Promise.all(fx.terminate.map((id) => this.deps.executor.terminate(id)));
    this.deps.queue.enqueue(fx.dispatch);
    return result;
  }

  /**
   * The attempts it queued are this replica's to launch (it holds them in its queue). Before the replica has
   * joined, they are nobody's: its start takes them over with the rest.
   */
  private async own(tx: Tx, ids: readonly string[]): Promise<void> {
    const replica = this.deps.owner.replica;
    if (replica === undefined) return;
    for (let i = 0; i < ids.length; i += OWN_CHUNK)
      await tx
        .updateTable("attempts")
        .set({ replica })
        .where("id", "in", ids.slice(i, i + OWN_CHUNK))
        .execute();
  }
}

/** Attempt ids per statement: under PostgreSQL's 65,535 parameters. */
const OWN_CHUNK = 10_000;
