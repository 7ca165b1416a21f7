/**
 * The DAG the execution page draws, from the workflow's spec: one node per task or map node, one edge per
 * node a node reads. Fan-out elements are not nodes here; their map node stands for them.
 */
import type { NodeSpec, TaskSpec, WorkflowSpec } from "@drydock/contracts";
// The zod-free entry: the walk over bindings without bundling the schemas.
import { nodeUpstream } from "@drydock/contracts/dag";

import type { ExecutionDetail } from "../ui/types.js";

export interface DagNode {
  id: string;
  task: string;
  kind: "task" | "map";
  /** The task opens VS Code when it runs (`vscode(...)`), or this run is a debug run of it. */
  interactive: boolean;
}

export interface DagEdge {
  source: string;
  target: string;
}

export interface DagGraph {
  nodes: DagNode[];
  edges: DagEdge[];
}

/** One edge per (upstream, node) pair, in node order; references to nodes the spec lacks are dropped. */
export function dagEdges(nodes: readonly NodeSpec[]): DagEdge[] {
  const ids = new Set(nodes.map((n) => n.id));
  const edges: DagEdge[] = [];
  for (const node of nodes) {
    for (const source of nodeUpstream(node))
      if (ids.has(source) && source !== node.id) edges.push({ source, target: node.id });
  }
  return edges;
}

/** The graph of a registered workflow; `tasks` says which tasks are interactive. */
export function dagFromSpec(
  spec: Pick<WorkflowSpec, "nodes">,
  tasks: readonly Pick<TaskSpec, "name" | "interactive">[] = [],
): DagGraph {
  const interactive = new Set(
    tasks.filter((t) => t.interactive && t.interactive.enable !== false).map((t) => t.name),
  );
  return {
    nodes: spec.nodes.map((n) => ({
      id: n.id,
      task: n.task,
      kind: n.kind,
      interactive: interactive.has(n.task),
    })),
    edges: dagEdges(spec.nodes),
  };
}

/**
 * The graph of what an execution ran, when its spec does not describe it: a debug run re-runs one node of the
 * registered workflow (always interactively), and a spec that could not be fetched still leaves the nodes.
 */
export function dagFromDetail(detail: ExecutionDetail, edges: readonly DagEdge[] = []): DagGraph {
  const childOf = new Set(detail.nodes.flatMap((n) => (n.parentNodeId ? [n.parentNodeId] : [])));
  const nodes = detail.nodes
    .filter((n) => !n.parentNodeId)
    .map((n) => ({
      id: n.nodeId,
      task: n.task,
      kind: childOf.has(n.nodeId) ? ("map" as const) : ("task" as const),
      interactive: Boolean(detail.execution.debugOf) || n.attempts.some((a) => a.session),
    }));
  const ids = new Set(nodes.map((n) => n.id));
  return { nodes, edges: edges.filter((e) => ids.has(e.source) && ids.has(e.target)) };
}

/** What the page draws for an execution, given the spec when there is one. */
export function executionDag(
  detail: ExecutionDetail,
  spec: Pick<WorkflowSpec, "nodes"> | undefined,
  tasks: readonly Pick<TaskSpec, "name" | "interactive">[] = [],
): DagGraph {
  if (detail.execution.debugOf || !spec)
    return dagFromDetail(detail, spec ? dagEdges(spec.nodes) : []);
  const graph = dagFromSpec(spec, tasks);
  // A task that held a session is interactive whatever its registration says (a debug run made it so).
  const hadSession = new Set(
    detail.nodes
      .filter((n) => !n.parentNodeId && n.attempts.some((a) => a.session))
      .map((n) => n.nodeId),
  );
  if (hadSession.size === 0) return graph;
  return {
    ...graph,
    nodes: graph.nodes.map((n) =>
      hadSession.has(n.id) && !n.interactive ? { ...n, interactive: true } : n,
    ),
  };
}
