/**
 * Finds a task in a loaded bundle module by the brand the SDK puts on tasks and workflows. The agent must
 * not depend on @drydock/sdk (the SDK depends on the agent through the server), so this mirrors the SDK's
 * `findEntities` (packages/sdk/src/entity.ts) over the same registered symbol.
 */
import type { JsonValue, TaskSpec } from "@drydock/contracts";

const ENTITY = Symbol.for("drydock.entity");

export interface TaskEntity {
  kind: "task";
  spec: TaskSpec;
  execute(inputs: Record<string, unknown>): Promise<JsonValue>;
  /** Set by `vscode(...)`: the hooks, which run in the agent's process (the spec carries the rest). */
  interactive?: { options: { preExecute?: () => unknown; postExecute?: () => unknown } };
}

interface WorkflowEntity {
  kind: "workflow";
  name: string;
  taskEntities(): ReadonlyMap<string, TaskEntity>;
}

function entityOf(value: unknown): TaskEntity | WorkflowEntity | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  const entity = (value as { [ENTITY]?: TaskEntity | WorkflowEntity })[ENTITY];
  return entity && (entity.kind === "task" || entity.kind === "workflow") ? entity : undefined;
}

/** The tasks a module exports, plus the tasks its exported workflows call, by task name. */
export function findTasks(moduleNamespace: Record<string, unknown>): Map<string, TaskEntity> {
  const tasks = new Map<string, TaskEntity>();
  const workflows: WorkflowEntity[] = [];
  for (const value of Object.values(moduleNamespace)) {
    const entity = entityOf(value);
    if (entity?.kind === "task") tasks.set(entity.spec.name, entity);
    if (entity?.kind === "workflow") workflows.push(entity);
  }
  for (const workflow of workflows) {
    for (const [name, task] of workflow.taskEntities()) if (!tasks.has(name)) tasks.set(name, task);
  }
  return tasks;
}
