/**
 * Where an execution and its nodes came from, and what can be made of them: recover an ended execution,
 * fork one node's IDE edits into a new version, and how a node that reused outputs reads. Free of React.
 */
import type { Execution, NodeExecution, NodeReuse } from "../ui/types.js";
import { latestSession } from "./session.js";

/**
 * Recover starts afresh from a failure: a FAILED or ABORTED execution. A SUCCEEDED one can be recovered only
 * with nodes to run again (the server refuses an empty `force` there), so its dialog asks for them.
 */
export function recoverable(execution: Pick<Execution, "status" | "debugOf">): boolean {
  // A debug run re-runs one node in an IDE; its own Debug button, not Recover, runs it again.
  if (execution.debugOf) return false;
  return (
    execution.status === "FAILED" ||
    execution.status === "ABORTED" ||
    execution.status === "SUCCEEDED"
  );
}

/** A SUCCEEDED execution has nothing to recover unless some node is forced to run again. */
export function recoverNeedsForce(execution: Pick<Execution, "status">): boolean {
  return execution.status === "SUCCEEDED";
}

/** The top-level nodes that succeeded, in the order given: the ones recover would reuse unless forced. */
export function forceChoices(
  nodes: readonly NodeExecution[],
): { nodeId: string; task: string; label: string }[] {
  return nodes
    .filter((n) => !n.parentNodeId && n.status === "SUCCEEDED")
    .map((n) => ({ nodeId: n.nodeId, task: n.task, label: `Run ${n.nodeId} (${n.task}) again` }));
}

/** Why Start recovery cannot go yet, or undefined when it can. */
export function recoverProblem(
  execution: Pick<Execution, "status" | "debugOf">,
  force: readonly string[],
): string | undefined {
  if (!recoverable(execution)) return "Only an execution that has ended can be recovered.";
  if (recoverNeedsForce(execution) && force.length === 0)
    return "Every node succeeded: tick at least one to run again.";
  return undefined;
}

/**
 * Fork with edits makes a version from the edits saved by the node's latest IDE session; the execution must
 * have ended, so that what the fork reuses upstream is final.
 */
export function canFork(
  node: NodeExecution | undefined,
  execution: Pick<Execution, "status">,
): boolean {
  return execution.status !== "RUNNING" && Boolean(latestSession(node)?.hasChanges);
}

/** The badge a reused node wears on the DAG. */
export function reuseBadge(reused: NodeReuse): string {
  return reused.from === "cache" ? "cached" : "reused";
}

/** "outputs reused from execution" / "cached outputs from execution": the words before the run's link. */
export function reusePhrase(reused: NodeReuse): string {
  return reused.from === "cache"
    ? "cached outputs from execution"
    : "outputs reused from execution";
}

/** "Not run: outputs reused from execution x1abc node n1": the DAG node's title and the pane's sentence. */
export function reuseLabel(reused: NodeReuse): string {
  return `Not run: ${reusePhrase(reused)} ${reused.executionId} node ${reused.nodeId}`;
}

/** The page of an execution, with one of its nodes selected when given. */
export function executionHref(executionId: string, nodeId?: string): string {
  const path = `/executions/${encodeURIComponent(executionId)}`;
  return nodeId === undefined ? path : `${path}?node=${encodeURIComponent(nodeId)}`;
}

/** "Recovered from" or "Forked from": how the header introduces the parent's link. */
export function parentVerb(parent: NonNullable<Execution["parent"]>): string {
  return parent.kind === "fork" ? "Forked from" : "Recovered from";
}
