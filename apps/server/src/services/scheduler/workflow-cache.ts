/**
 * Keeps every workflow an execution walks in memory once read: a registered version never changes, and a
 * debug run's one-node workflow is derived from it once. Reads inside a transaction pass that transaction.
 */
import type { Kysely } from "kysely";

import type { Db } from "../../db/database.js";
import type { Database, ExecutionRow } from "../../db/schema.js";
import { debugWorkflow } from "../debug-run.js";
import type { LoadedWorkflow } from "./loaded-workflow.js";
import { readWorkflowVersion } from "./loaded-workflow.js";

export class WorkflowCache {
  private readonly workflows = new Map<string, LoadedWorkflow>();

  constructor(private readonly db: Db) {}

  /** The workflow an execution walks: its registered version, or for a debug run the one node it re-runs. */
  async workflowOf(
    exec: Pick<ExecutionRow, "project" | "workflow" | "version" | "debug_of">,
    q: Kysely<Database> = this.db,
  ): Promise<LoadedWorkflow> {
    const base = await this.registered(exec.project, exec.workflow, exec.version, q);
    const of = exec.debug_of;
    if (!of) return base;
    const key = `${exec.project}/${exec.workflow}/${exec.version}#debug/${of.task}/${of.nodeId}`;
    let debug = this.workflows.get(key);
    if (!debug) this.workflows.set(key, (debug = debugWorkflow(base, of, exec)));
    return debug;
  }

  private async registered(
    project: string,
    name: string,
    version: string,
    q: Kysely<Database>,
  ): Promise<LoadedWorkflow> {
    const key = `${project}/${name}/${version}`;
    const cached = this.workflows.get(key);
    if (cached) return cached;
    const loaded = await readWorkflowVersion(q, project, name, version);
    this.workflows.set(key, loaded);
    return loaded;
  }
}
