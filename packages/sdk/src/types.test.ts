// Type-level checks: `pnpm typecheck` fails if the public types stop doing their job.
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";

import type { Ref } from "./refs.js";
import { task } from "./task.js";
import { vscode } from "./vscode.js";
import { workflow } from "./workflow.js";

const point = task(
  {
    name: "point",
    inputs: { x: z.number(), label: z.string().default("p") },
    output: z.object({ x: z.number(), tags: z.array(z.string()) }),
  },
  vscode(({ x, label }) => {
    expectTypeOf(x).toEqualTypeOf<number>();
    expectTypeOf(label).toEqualTypeOf<string>();
    return { x, tags: [label] };
  }),
);
const shout = task(
  { name: "shout", inputs: { words: z.array(z.string()) }, output: z.string() },
  ({ words }) => words.join("!"),
);

describe("types", () => {
  it("types workflow inputs as Refs, task results as Refs, and run results as values", async () => {
    const wf = workflow(
      { name: "typed", inputs: { x: z.number(), xs: z.array(z.number()).default([]) } },
      ({ x, xs }) => {
        expectTypeOf(x).toEqualTypeOf<Ref<number>>();
        const p = point({ x });
        expectTypeOf(p).toEqualTypeOf<Ref<{ x: number; tags: string[] }>>();
        expectTypeOf(p.tags[0]).toEqualTypeOf<Ref<string>>();
        const many = point.map({ x: xs });
        expectTypeOf(many).toEqualTypeOf<Ref<{ x: number; tags: string[] }[]>>();
        // @ts-expect-error a string literal where a number is wanted
        point({ x: "1" });
        // @ts-expect-error an unknown input
        point({ x: 1, y: 2 });
        // @ts-expect-error a Ref of the wrong type
        shout({ words: [p.x] });
        return { text: shout({ words: [p.tags[0], "literal"] }), many };
      },
    );
    expectTypeOf(wf.run).parameter(0).toEqualTypeOf<{ x: number; xs?: number[] | undefined }>();
    expectTypeOf(wf.run).returns.toEqualTypeOf<
      Promise<{ text: string; many: { x: number; tags: string[] }[] }>
    >();
    expectTypeOf(point.run).returns.toEqualTypeOf<Promise<{ x: number; tags: string[] }>>();
    // @ts-expect-error x is required
    const _missing = () => wf.run();
    const optional = workflow(
      { name: "optional_inputs", inputs: { x: z.number().default(1) } },
      ({ x }) => point({ x }),
    );
    const none = workflow({ name: "no_inputs" }, () => point({ x: 1 }));
    expectTypeOf(optional.run).toBeCallableWith();
    expectTypeOf(none.run).toBeCallableWith();
  });
});
