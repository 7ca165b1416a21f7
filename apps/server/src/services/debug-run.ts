import type { Binding, TaskSpec } from "@drydock/contracts";
import { InteractiveConfigSchema } from "@drydock/contracts";

import type { DebugOf } from "../db/schema.js";
import { ServerErrors } from "../errors.js";
import type { LoadedWorkflow } from "./scheduler/loaded-workflow.js";

/**
 * What a debug run (`drydock debug <execution> <node>`) walks instead of the registered DAG: one node, with
 * the original node's id, fed from the execution's inputs (the node's inputs as it had them), whose output
 * is the result. Its task is the registered one (same bundle) made interactive — the task's own options
 * kept, but the IDE always opens (`runTaskFirst: false`) — and without retries or a timeout: a person is at
 * the keyboard, so a failure is theirs to see, and the idle deadline ends a forgotten session.
 */
export function debugWorkflow(
  base: LoadedWorkflow,
  of: DebugOf,
  where: { project: string; workflow: string; version: string },
): LoadedWorkflow {
  const registered = base.tasks.get(of.task);
  if (!registered)
    throw ServerErrors.workflowNotFound(where.project, where.workflow, where.version);
  const { timeoutSeconds: _timeout, ...rest } = registered;
  const task: TaskSpec = {
    ...rest,
    retries: 0,
    interactive: {
      ...InteractiveConfigSchema.parse(registered.interactive ?? {}),
      enable: true,
      runTaskFirst: false,
    },
  };
  // An input the execution does not hold (an optional one the node was not given) is left out, not failed.
  const inputs: Record<string, Binding> = Object.fromEntries(
    Object.keys(task.inputs).map((name) => [name, { kind: "input", name }]),
  );
  return {
    spec: {
      name: base.spec.name,
      inputs: task.inputs,
      required: task.required,
      nodes: [{ kind: "task", id: of.nodeId, task: of.task, inputs }],
      output: { kind: "node", node: of.nodeId },
    },
    tasks: new Map(base.tasks).set(of.task, task),
    bundle: base.bundle,
    entry: base.entry,
  };
}
