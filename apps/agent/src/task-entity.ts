/**
 * Finds the tasks in a loaded bundle module with the SDK's own lookup. The brand it reads is a registered
 * symbol, so tasks defined with the copy of the SDK shipped inside the bundle are found all the same.
 */
import { findEntities } from "@drydock/sdk";
import type { TaskEntity } from "@drydock/sdk";

export type { TaskEntity };

/** The tasks a module exports, plus the tasks its exported workflows call, by task name. */
export function findTasks(moduleNamespace: Record<string, unknown>): Map<string, TaskEntity> {
  return findEntities(moduleNamespace).tasks;
}
