/** The small range → square (fan-out) → sum workflow the scheduler's and the executions' tests run. */
import type { Binding, JsonValue, TaskSpec, WorkflowSpec } from "@drydock/contracts";

import type { Db } from "../db/database.js";

/** A task spec with untyped inputs, all required. */
export const testTask = (
  name: string,
  inputs: string[],
  extra: Partial<TaskSpec> = {},
): TaskSpec => ({
  name,
  inputs: Object.fromEntries(inputs.map((i) => [i, {}])),
  required: inputs,
  output: {},
  retries: 0,
  ...extra,
});

/** `range(count)`, then `square` mapped over it, then `sum`; the workflow's output is `output`. */
export const pipelineSpec = (output: Binding): WorkflowSpec => ({
  name: "pipe",
  inputs: { count: {} },
  required: ["count"],
  nodes: [
    { kind: "task", id: "n0", task: "range", inputs: { n: { kind: "input", name: "count" } } },
    {
      kind: "map",
      id: "n1",
      task: "square",
      over: { x: { kind: "node", node: "n0" } },
      inputs: { k: { kind: "literal", value: 1 } },
    },
    { kind: "task", id: "n2", task: "sum", inputs: { xs: { kind: "node", node: "n1" } } },
  ],
  output,
});

/** One node, `n0`: task `task` (input `x`) mapped over `values`; the workflow's output is its list. */
export const mapSpec = (name: string, task: string, values: JsonValue[]): WorkflowSpec => ({
  name,
  inputs: {},
  required: [],
  nodes: [
    { kind: "map", id: "n0", task, over: { x: { kind: "literal", value: values } }, inputs: {} },
  ],
  output: { kind: "node", node: "n0" },
});

/** What each of the pipeline's tasks returns for its inputs. */
export const computePipeline = (t: string, i: Record<string, JsonValue>): JsonValue =>
  t === "range"
    ? Array.from({ length: i.n as number }, (_, k) => k + 1)
    : t === "square"
      ? (i.x as number) ** 2 * (i.k as number)
      : (i.xs as number[]).reduce((a, b) => a + b, 0);

/** Registers `spec` with `tasks` as `version` of project "default", on `bundle` (a stand-in by default). */
export async function registerWorkflow(
  db: Db,
  spec: WorkflowSpec,
  tasks: TaskSpec[],
  version: string,
  bundle = "a".repeat(64),
): Promise<void> {
  await db
    .insertInto("bundles")
    .values({ sha256: bundle, size: 1 })
    .onConflict((oc) => oc.doNothing())
    .execute();
  await db
    .insertInto("workflow_versions")
    .values({
      project: "default",
      name: spec.name,
      version,
      bundle,
      entry: "wf.ts",
      spec: JSON.stringify(spec),
      tasks: JSON.stringify(tasks),
    })
    .execute();
}
