/** Fan-out elements (`n1[0]`, `n1[1]`, …) summed up per map node, for the DAG and the map node's pane. */
import type { ExecutionDetail, NodeExecution, NodeStatus } from "../ui/types.js";

export interface FanoutSummary {
  total: number;
  counts: Partial<Record<NodeStatus, number>>;
}

/** The order a summary names statuses in: what finished, what is live, what went wrong, what waits. */
const ORDER: readonly NodeStatus[] = [
  "SUCCEEDED",
  "RUNNING",
  "QUEUED",
  "FAILED",
  "ABORTED",
  "SKIPPED",
  "PENDING",
];

/** Each map node's elements by status, in one pass over the nodes. */
export function fanoutSummaries(detail: ExecutionDetail | undefined): Map<string, FanoutSummary> {
  const summaries = new Map<string, FanoutSummary>();
  for (const node of detail?.nodes ?? []) {
    if (!node.parentNodeId) continue;
    let summary = summaries.get(node.parentNodeId);
    if (!summary) {
      summary = { total: 0, counts: {} };
      summaries.set(node.parentNodeId, summary);
    }
    summary.total += 1;
    summary.counts[node.status] = (summary.counts[node.status] ?? 0) + 1;
  }
  return summaries;
}

/** "1000 elements · 998 succeeded · 2 running"; "No elements yet" before the fan-out started. */
export function describeFanout(summary: FanoutSummary | undefined): string {
  if (!summary || summary.total === 0) return "No elements yet";
  const parts = [`${summary.total} ${summary.total === 1 ? "element" : "elements"}`];
  for (const status of ORDER) {
    const count = summary.counts[status];
    if (count) parts.push(`${count} ${status.toLowerCase()}`);
  }
  return parts.join(" · ");
}

/** A map node's elements in index order. */
export function elementsOf(detail: ExecutionDetail | undefined, parentId: string): NodeExecution[] {
  return (detail?.nodes ?? [])
    .filter((n) => n.parentNodeId === parentId)
    .sort((a, b) => (a.mapIndex ?? 0) - (b.mapIndex ?? 0));
}
