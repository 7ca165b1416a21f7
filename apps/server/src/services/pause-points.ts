/**
 * Pause points (`--pause-before`): the nodes of an execution whose tasks are held on their first line, with
 * their IDE open and the real inputs loaded, before they run. A fan-out's id pauses each of its elements.
 */
import type { TaskSpec } from "@drydock/contracts";

import { ServerErrors } from "../errors.js";
import { specNodeId } from "./ids.js";

/** Whether the node (a task node, a fan-out element, or a debug run's node) is a pause point. */
export function pausesBefore(pauseBefore: readonly string[], nodeId: string): boolean {
  return pauseBefore.includes(nodeId) || pauseBefore.includes(specNodeId(nodeId));
}

/**
 * Whether an attempt of the task on this node may pause, so its task runs in a process of its own: an
 * interactive task with `onFailure: "pause"`, or a pause point.
 */
export function mayPause(
  task: Pick<TaskSpec, "interactive">,
  pauseBefore: readonly string[],
  nodeId: string,
): boolean {
  return (
    (task.interactive?.enable === true && task.interactive.onFailure === "pause") ||
    pausesBefore(pauseBefore, nodeId)
  );
}

/** The pause points asked for, each once; refuses ids that are not the workflow's nodes, naming them. */
export function checkPausePoints(
  workflow: { name: string; nodes: readonly { id: string }[] },
  asked: readonly string[],
): string[] {
  const valid = workflow.nodes.map((n) => n.id);
  const unique = [...new Set(asked)];
  const unknown = unique.filter((id) => !valid.includes(id));
  if (unknown.length > 0) throw ServerErrors.pausePointsUnknown(workflow.name, unknown, valid);
  return unique;
}
