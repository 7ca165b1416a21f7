/**
 * Where a workflow keeps its zod input schemas. Apart from `workflow.ts` so the local runner can read them
 * without importing the module that calls the runner (`workflow.run`).
 */
import { ENTITY } from "./entity.js";
import type { InputShape } from "./inputs.js";

/** Where the local runner finds a workflow's zod input schemas; registered, so any SDK copy finds them. */
export const WORKFLOW_INPUTS: unique symbol = Symbol.for("drydock.workflow.inputs") as never;

/** The zod input schemas of a workflow made by `workflow(...)`, given the workflow or its entity. */
export function workflowInputShape(wf: object): InputShape | undefined {
  type WithInputs = { [WORKFLOW_INPUTS]?: InputShape };
  return (
    (wf as WithInputs)[WORKFLOW_INPUTS] ??
    ((wf as { [ENTITY]?: WithInputs })[ENTITY] ?? {})[WORKFLOW_INPUTS]
  );
}
