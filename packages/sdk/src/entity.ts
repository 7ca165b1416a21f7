/**
 * How Drydock recognises tasks and workflows in a loaded module. The brand is a registered symbol, so a
 * task defined with one copy of the SDK (the one shipped in a bundle) is recognised by another (the agent's).
 */
import type { JsonValue, TaskSpec, WorkflowSpec } from "@drydock/contracts";

export const ENTITY: unique symbol = Symbol.for("drydock.entity") as never;

/** Where `task(...)` was called: absolute file path, 1-based line and column (as a V8 stack frame gives them). */
export interface TaskCallSite {
  file: string;
  line: number;
  column: number;
}

export interface TaskEntity {
  kind: "task";
  spec: TaskSpec;
  /** Where the task was defined, so `drydock register` can hash its code (`taskCodeAt`); not part of the spec. */
  callSite?: TaskCallSite;
  /** Validates raw inputs (applying defaults), runs the task function, validates and returns its output. */
  execute(inputs: Record<string, unknown>): Promise<JsonValue>;
  /**
   * The author's own function (unwrapped from `vscode(...)`), which `execute` calls: a pause point breaks on its
   * first line. Absent on entities made by an SDK from before pause points.
   */
  fn?: (...args: never[]) => unknown;
  /**
   * Set by `vscode(...)`: the hooks, which the agent runs in the task's process (the spec carries the rest).
   * Only the hooks are declared, so entities made by another copy of the SDK still fit.
   */
  interactive?: { options: { preExecute?: () => unknown; postExecute?: () => unknown } };
}

export interface WorkflowEntity {
  kind: "workflow";
  name: string;
  /** Runs the workflow function against placeholders and returns the DAG and the tasks it calls. */
  build(): { workflow: WorkflowSpec; tasks: TaskSpec[] };
  /** The task objects the workflow calls, by task name. */
  taskEntities(): ReadonlyMap<string, TaskEntity>;
}

export type Entity = TaskEntity | WorkflowEntity;

export function entityOf(value: unknown): Entity | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null)
    return undefined;
  const entity = (value as { [ENTITY]?: Entity })[ENTITY];
  return entity && (entity.kind === "task" || entity.kind === "workflow") ? entity : undefined;
}

/** The tasks and workflows a module exports, plus the tasks its workflows call (exported or not). */
export function findEntities(moduleNamespace: Record<string, unknown>): {
  tasks: Map<string, TaskEntity>;
  workflows: Map<string, WorkflowEntity>;
} {
  const tasks = new Map<string, TaskEntity>();
  const workflows = new Map<string, WorkflowEntity>();
  for (const value of Object.values(moduleNamespace)) {
    const entity = entityOf(value);
    if (entity?.kind === "task") tasks.set(entity.spec.name, entity);
    if (entity?.kind === "workflow") workflows.set(entity.name, entity);
  }
  for (const wf of workflows.values()) {
    for (const [name, t] of wf.taskEntities()) if (!tasks.has(name)) tasks.set(name, t);
  }
  return { tasks, workflows };
}
