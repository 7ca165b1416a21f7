/**
 * Executions begin and end on request: starting one creates its nodes and takes the DAG's first step, aborting
 * one ends it and everything of it still open, and after a restart every running execution takes its next
 * step again (a step is idempotent, so nothing runs twice).
 */
import type { ExecutionParent, JsonValue } from "@drydock/contracts";

import type { Db } from "../../db/database.js";
import type { DebugOf } from "../../db/schema.js";
import { ServerErrors } from "../../errors.js";
import type { EventBus } from "../event-bus.js";
import { jsonColumns } from "../json-text.js";
import { advance, finish } from "./dag.js";
import type { ExecutionTransactions, Tx } from "./transaction.js";
import type { WorkflowCache } from "./workflow-cache.js";

export interface NewExecution {
  id: string;
  project: string;
  workflow: string;
  version: string;
  inputs: Record<string, JsonValue>;
  /** Makes it a debug run of that node. */
  debugOf?: DebugOf;
  /** The user who launched it. */
  createdBy?: string;
  /** Makes it a recover or fork of that execution: it reuses what succeeded there (see reuse.ts). */
  parent?: ExecutionParent;
  /** Cached tasks run again and replace their cache entries. */
  overwriteCache?: boolean;
  /** Pause points: these nodes' tasks are held on their first line with their IDE open. */
  pauseBefore?: string[];
}

export class ExecutionLifecycle {
  constructor(
    private readonly deps: {
      db: Db;
      bus: EventBus;
      workflows: WorkflowCache;
      transactions: ExecutionTransactions;
    },
  ) {}

  /**
   * Creates the execution's nodes and starts the DAG; `debugOf` makes it a debug run of that node.
   * `prepare` writes, in the same transaction, what the execution needs first (a fork's version).
   */
  async startExecution(exec: NewExecution, prepare?: (tx: Tx) => Promise<void>): Promise<void> {
    const { debugOf, createdBy, parent, overwriteCache, pauseBefore, ...row } = exec;
    const inputs = jsonColumns(exec.inputs);
    await this.deps.db.transaction().execute(async (tx) => {
      await prepare?.(tx);
      const { spec } = await this.deps.workflows.workflowOf(
        { ...row, debug_of: debugOf ?? null },
        tx,
      );
      await tx
        .insertInto("executions")
        .values({
          ...row,
          status: "RUNNING",
          inputs: inputs.text,
          inputs_bytes: inputs.bytes,
          inputs_preview: inputs.preview,
          debug_of: debugOf ? JSON.stringify(debugOf) : null,
          created_by: createdBy ?? null,
          parent: parent ? JSON.stringify(parent) : null,
          parent_id: parent?.executionId ?? null,
          overwrite_cache: overwriteCache ?? false,
          pause_before: pauseBefore ?? [],
        })
        .execute();
      if (spec.nodes.length > 0) {
        await tx
          .insertInto("node_executions")
          .values(
            spec.nodes.map((n) => ({
              execution_id: exec.id,
              node_id: n.id,
              task: n.task,
              status: "PENDING",
            })),
          )
          .execute();
      }
    });
    this.deps.bus.publishListChange(exec.project, exec.id);
    await this.step(exec.id);
  }

  async abort(executionId: string): Promise<void> {
    await this.deps.transactions.transact(executionId, async (tx, exec, fx) => {
      if (exec.status !== "RUNNING") throw ServerErrors.executionFinished(executionId, exec.status);
      await finish(tx, exec, fx, "ABORTED", {
        error: { message: "aborted by the user", code: "ABORTED" },
      });
    });
  }

  /** After a restart: every running execution decides again what can run next. */
  async resumeRunning(): Promise<void> {
    const running = await this.deps.db
      .selectFrom("executions")
      .select("id")
      .where("status", "=", "RUNNING")
      .execute();
    for (const { id } of running) await this.step(id);
  }

  private async step(executionId: string): Promise<void> {
    await this.deps.transactions.transact(executionId, (tx, exec, fx) =>
      advance(this.deps.workflows, tx, exec, fx),
    );
  }
}
