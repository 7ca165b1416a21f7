// The console benchmark's workflow: 999 parallel trivial tasks feeding one, so the execution page draws a
// DAG of 1,000 nodes. The width is fixed when the workflow is built (a workflow function cannot loop over
// an input: inputs are placeholders there), unlike `fanout`, whose 1,000 elements share one DAG node.
//
//   drydock run --remote examples/wide/workflow.ts wide
import { task, workflow } from "@drydock/sdk";
import { z } from "zod";

/** How many `double` nodes feed `sum`. */
export const WIDTH = 999;

export const double = task(
  { name: "double", inputs: { x: z.number() }, output: z.number() },
  ({ x }) => x * 2,
);

export const sum = task(
  { name: "sum", inputs: { values: z.array(z.number()) }, output: z.number() },
  ({ values }) => values.reduce((total, value) => total + value, 0),
);

export const wide = workflow({ name: "wide" }, () =>
  sum({ values: Array.from({ length: WIDTH }, (_, i) => double({ x: i })) }),
);
