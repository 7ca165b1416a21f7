/**
 * The execution page's own work on a large DAG, in process and without a browser: laying out 1,000 nodes
 * (999 parallel tasks feeding one, drawn as a grid block), the plain layering that takes over from dagre for
 * graphs too big for it, and folding a batch of 1,000 live element events into the page's state. These are the
 * steps between the watch snapshot and the first paint, so each has a goal of its own.
 *
 *   pnpm --filter @drydock/console exec tsx bench/execution-view.ts
 *
 * `bench/console.ts` runs it too, before the figures that need the whole stack. The first call of each step is
 * the one a user waits for (nothing compiled or cached yet), so the verdict is on it; the median of the
 * following calls shows the steady cost.
 */
import { pathToFileURL } from "node:url";

import type { DagGraph } from "../src/execution/graph.js";
import { DAGRE_MAX_UNITS, layoutDag } from "../src/execution/layout.js";
import { applyEvents } from "../src/execution/state.js";
import type { ExecutionDetail, ExecutionEvent, NodeExecution } from "../src/ui/types.js";

const LAYOUT_GOAL_MS = 250;
const EVENTS_GOAL_MS = 500;
const REPEATS = 5;

interface Step {
  label: string;
  goalMs: number;
  run: () => unknown;
}

const graph = (ids: string[], edges: [string, string][]): DagGraph => ({
  nodes: ids.map((id) => ({ id, task: "t", kind: "task", interactive: false })),
  edges: edges.map(([source, target]) => ({ source, target })),
});

/** `width` parallel nodes n0…n(width-1) feeding n(width): examples/wide's shape. */
function wide(width: number): DagGraph {
  const ids = Array.from({ length: width + 1 }, (_, i) => `n${i}`);
  return graph(
    ids,
    ids.slice(0, width).map((id) => [id, `n${width}`]),
  );
}

/** Pairs a_i → b_i share no neighbours, so nothing groups and dagre would see every node: the fallback's case. */
function unrelatedPairs(pairs: number): DagGraph {
  const ids = Array.from({ length: pairs * 2 }, (_, i) => `n${i}`);
  return graph(
    ids,
    Array.from({ length: pairs }, (_, i): [string, string] => [`n${i}`, `n${i + pairs}`]),
  );
}

/** A running execution of a map node n1, and one SUCCEEDED event for each of its `count` elements. */
function elementEvents(count: number): { detail: ExecutionDetail; events: ExecutionEvent[] } {
  const at = "2030-01-01T00:00:01.000Z";
  const node = (nodeId: string): NodeExecution => ({
    executionId: "xbench",
    nodeId,
    task: "double",
    status: "PENDING",
    attempts: [],
  });
  const detail: ExecutionDetail = {
    execution: {
      id: "xbench",
      project: "default",
      workflow: "wf",
      version: "v1",
      status: "RUNNING",
      overwriteCache: false,
      pauseBefore: [],
      inputs: {},
      createdAt: at,
    },
    nodes: [node("n0"), node("n1")],
  };
  const events = Array.from({ length: count }, (_, i): ExecutionEvent => ({
    type: "node",
    executionId: "xbench",
    nodeId: `n1[${i}]`,
    status: "SUCCEEDED",
    attempt: 1,
    at,
  }));
  return { detail, events };
}

function timed(run: () => unknown): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Prints one line per step; true when every first call met its goal. */
export function measureExecutionView(): boolean {
  const wideGraph = wide(999);
  const pairsGraph = unrelatedPairs(DAGRE_MAX_UNITS / 2 + 100);
  const { detail, events } = elementEvents(1_000);
  const steps: Step[] = [
    {
      label: `layout of ${wideGraph.nodes.length.toLocaleString("en")} nodes (999 parallel feeding one)`,
      goalMs: LAYOUT_GOAL_MS,
      run: () => layoutDag(wideGraph),
    },
    {
      label: `layout of ${pairsGraph.nodes.length.toLocaleString("en")} nodes too many for dagre`,
      goalMs: LAYOUT_GOAL_MS,
      run: () => layoutDag(pairsGraph),
    },
    {
      label: `${events.length.toLocaleString("en")} element events applied in one batch`,
      goalMs: EVENTS_GOAL_MS,
      run: () => applyEvents(detail, events),
    },
  ];

  process.stdout.write("\nExecution page work, in process:\n");
  let ok = true;
  for (const step of steps) {
    const first = timed(step.run);
    const after = Array.from({ length: REPEATS }, () => timed(step.run));
    const met = first < step.goalMs;
    ok &&= met;
    process.stdout.write(
      `  ${step.label.padEnd(52)} first ${first.toFixed(1).padStart(6)} ms (goal < ${step.goalMs} ms) ${met ? "PASS" : "MISS"}; then median ${median(after).toFixed(1)} ms of ${REPEATS}\n`,
    );
  }
  return ok;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  measureExecutionView();
