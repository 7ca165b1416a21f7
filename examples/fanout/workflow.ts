// The control-plane benchmark's workflow: one fan-out of `count` trivial tasks, gathered by one more.
import { task, workflow } from "@drydock/sdk";
import { z } from "zod";

export const indexes = task(
  {
    name: "indexes",
    inputs: { count: z.number().int().min(0) },
    output: z.array(z.number().int()),
  },
  ({ count }) => Array.from({ length: count }, (_, i) => i),
);

export const identity = task(
  { name: "identity", inputs: { i: z.number().int() }, output: z.number().int() },
  ({ i }) => i,
);

export const count = task(
  { name: "count", inputs: { values: z.array(z.number()) }, output: z.number().int() },
  ({ values }) => values.length,
);

export const fanout = workflow(
  { name: "fanout", inputs: { count: z.number().int().min(0).default(1_000) } },
  ({ count: n }) => count({ values: identity.map({ i: indexes({ count: n }) }) }),
);
