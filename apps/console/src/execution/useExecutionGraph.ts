/**
 * The execution's DAG as the page draws it: built from the registered workflow version it ran, laid out, with
 * the top-level nodes and fan-out summaries it shows. Rebuilt and laid out again only when its shape changes.
 */
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";

import { api } from "../api.js";
import type { Execution, ExecutionDetail, NodeExecution } from "../ui/types.js";
import { fanoutSummaries } from "./fanout.js";
import { executionDag } from "./graph.js";
import { layoutDag } from "./layout.js";

/** The registered workflow version an execution ran: its spec gives the DAG. A version never changes. */
export function workflowQuery(
  execution: Pick<Execution, "project" | "workflow" | "version"> | undefined,
) {
  return {
    queryKey: [
      "workflow-version",
      execution?.project,
      execution?.workflow,
      execution?.version,
    ] as const,
    queryFn: () =>
      api.workflows.get.query({
        project: execution?.project ?? "",
        name: execution?.workflow ?? "",
        version: execution?.version ?? "",
      }),
    staleTime: Infinity,
  };
}

/** What decides the DAG's shape: which nodes there are, and which held a session (they get the VS Code mark). */
function shapeKey(nodes: readonly NodeExecution[]): string {
  let key = "";
  for (const n of nodes)
    if (!n.parentNodeId) key += `${n.nodeId}${n.attempts.some((a) => a.session) ? "*" : ""},`;
  return key;
}

export function useExecutionGraph(detail: ExecutionDetail | undefined) {
  const execution = detail?.execution;
  const workflow = useQuery({ ...workflowQuery(execution), enabled: Boolean(execution) });
  const nodes = detail?.nodes;
  const shape = nodes ? shapeKey(nodes) : "";
  const debugOf = execution?.debugOf;
  const graph = useMemo(
    () =>
      detail && !workflow.isPending
        ? executionDag(detail, workflow.data?.spec, workflow.data?.tasks)
        : undefined,
    // Rebuilt when the shape changes, not on every status change (`detail` is left out on purpose).
    [shape, debugOf, workflow.data, workflow.isPending],
  );
  const layoutKey = graph
    ? `${graph.nodes.map((n) => n.id).join(",")}|${graph.edges.map((e) => `${e.source}>${e.target}`).join(",")}`
    : "";
  // Laid out again only when nodes or edges change, not when a node merely gains its VS Code mark.
  const layout = useMemo(() => (graph ? layoutDag(graph) : undefined), [layoutKey]);
  const topLevel = useMemo(
    () => new Map((nodes ?? []).filter((n) => !n.parentNodeId).map((n) => [n.nodeId, n])),
    [nodes],
  );
  const fanouts = useMemo(() => fanoutSummaries(detail), [detail]);
  return { workflow, graph, layout, topLevel, fanouts };
}
