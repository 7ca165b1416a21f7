/**
 * What an execution walks: a workflow version's DAG and the tasks its nodes run, with the bundle that holds
 * their code. Its own module so that whatever derives one (a debug run) and whatever caches them (the
 * scheduler's workflow cache) can both use it without importing each other.
 */
import type { ForkLineage, TaskSpec, WorkflowSpec } from "@drydock/contracts";
import type { Kysely } from "kysely";

import type { Database } from "../../db/schema.js";
import { ServerErrors } from "../../errors.js";

export interface LoadedWorkflow {
  spec: WorkflowSpec;
  tasks: Map<string, TaskSpec>;
  bundle: string;
  entry: string;
  /** Set on a version made by `fork`: which tasks its edit changed, among the rest. */
  forkedFrom?: ForkLineage;
}

/** Reads a registered workflow version from the store; refuses one that was never registered. */
export async function readWorkflowVersion(
  q: Kysely<Database>,
  project: string,
  name: string,
  version: string,
): Promise<LoadedWorkflow> {
  const row = await q
    .selectFrom("workflow_versions")
    .select(["spec", "tasks", "bundle", "entry", "forked_from"])
    .where("project", "=", project)
    .where("name", "=", name)
    .where("version", "=", version)
    .executeTakeFirst();
  if (!row) throw ServerErrors.workflowNotFound(project, name, version);
  return {
    spec: row.spec as WorkflowSpec,
    tasks: new Map((row.tasks as TaskSpec[]).map((t) => [t.name, t])),
    bundle: row.bundle,
    entry: row.entry,
    ...(row.forked_from ? { forkedFrom: row.forked_from } : {}),
  };
}
