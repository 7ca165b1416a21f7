// Data passing and fan-out: make_numbers → square (once per number) → total → report.
import { task, workflow } from "@drydock/sdk";
import { z } from "zod";

export const makeNumbers = task(
  {
    name: "make_numbers",
    inputs: { count: z.number().int().min(0) },
    output: z.array(z.number().int()),
  },
  ({ count }) => Array.from({ length: count }, (_, i) => i + 1),
);

export const square = task(
  { name: "square", inputs: { x: z.number() }, output: z.number() },
  ({ x }) => x * x,
);

export const total = task(
  { name: "total", inputs: { values: z.array(z.number()) }, output: z.number() },
  ({ values }) => values.reduce((sum, value) => sum + value, 0),
);

export const report = task(
  { name: "report", inputs: { total: z.number(), count: z.number().int() }, output: z.string() },
  ({ total, count }) => `sum of squares of 1..${count} is ${total}`,
);

export const pipeline = workflow(
  { name: "pipeline", inputs: { count: z.number().int().min(0).default(4) } },
  ({ count }) => {
    const numbers = makeNumbers({ count });
    const squares = square.map({ x: numbers });
    return report({ total: total({ values: squares }), count });
  },
);
