import { describe, expect, it } from "vitest";
import { z } from "zod";

import { ENTITY, findEntities } from "./entity.js";
import { InvalidInputsError } from "./errors.js";
import type { Ref } from "./refs.js";
import { task } from "./task.js";
import { workflow } from "./workflow.js";

const makePoint = task(
  {
    name: "make_point",
    inputs: { x: z.number(), y: z.number().default(0) },
    output: z.object({ x: z.number(), y: z.number() }),
  },
  (p) => p,
);
const norm = task(
  {
    name: "norm",
    inputs: { point: z.object({ x: z.number(), y: z.number() }) },
    output: z.number(),
  },
  ({ point }) => Math.hypot(point.x, point.y),
);
const sum = task(
  {
    name: "sum",
    inputs: { values: z.array(z.number()), label: z.string().optional() },
    output: z.number(),
  },
  ({ values }) => values.reduce((a, b) => a + b, 0),
);
const describeAll = task(
  {
    name: "describe_all",
    inputs: { data: z.object({ a: z.number(), b: z.array(z.number()), c: z.string() }) },
    output: z.string(),
  },
  ({ data }) => JSON.stringify(data),
);

describe("building a workflow", () => {
  it("records task calls as nodes n0, n1, … with input and node bindings", () => {
    const wf = workflow({ name: "points", inputs: { x: z.number() } }, ({ x }) => {
      const p = makePoint({ x });
      return norm({ point: p });
    });
    const { workflow: spec, tasks } = wf.build();
    expect(spec.nodes).toEqual([
      { kind: "task", id: "n0", task: "make_point", inputs: { x: { kind: "input", name: "x" } } },
      { kind: "task", id: "n1", task: "norm", inputs: { point: { kind: "node", node: "n0" } } },
    ]);
    expect(spec.output).toEqual({ kind: "node", node: "n1" });
    expect(tasks.map((t) => t.name)).toEqual(["make_point", "norm"]);
    expect(spec.inputs.x).toMatchObject({ type: "number" });
    expect(spec.required).toEqual(["x"]);
  });

  it("turns field and index access on Refs into binding paths", () => {
    const wf = workflow({ name: "paths", inputs: { xs: z.array(z.number()) } }, ({ xs }) => {
      const p = makePoint({ x: xs[2], y: 1 });
      return makePoint({ x: p.y, y: p.x });
    });
    const [first, second] = wf.build().workflow.nodes;
    expect(first?.inputs).toEqual({
      x: { kind: "input", name: "xs", path: [2] },
      y: { kind: "literal", value: 1 },
    });
    expect(second?.inputs).toEqual({
      x: { kind: "node", node: "n0", path: ["y"] },
      y: { kind: "node", node: "n0", path: ["x"] },
    });
  });

  it("binds arrays and objects holding Refs as list and object bindings, and pure values as literals", () => {
    const wf = workflow(
      { name: "nested", inputs: { a: z.number(), label: z.string() } },
      ({ a, label }) => {
        const p = makePoint({ x: 3 });
        const total = sum({ values: [a, p.x, 7], label: "fixed" });
        describeAll({ data: { a: total, b: [1, 2], c: label } });
        return { total, parts: [p, 5], name: label };
      },
    );
    const { nodes, output } = wf.build().workflow;
    expect(nodes[1]?.inputs).toEqual({
      values: {
        kind: "list",
        items: [
          { kind: "input", name: "a" },
          { kind: "node", node: "n0", path: ["x"] },
          { kind: "literal", value: 7 },
        ],
      },
      label: { kind: "literal", value: "fixed" },
    });
    expect(nodes[2]?.inputs).toEqual({
      data: {
        kind: "object",
        fields: {
          a: { kind: "node", node: "n1" },
          b: { kind: "literal", value: [1, 2] },
          c: { kind: "input", name: "label" },
        },
      },
    });
    expect(output).toEqual({
      kind: "object",
      fields: {
        total: { kind: "node", node: "n1" },
        parts: {
          kind: "list",
          items: [
            { kind: "node", node: "n0" },
            { kind: "literal", value: 5 },
          ],
        },
        name: { kind: "input", name: "label" },
      },
    });
  });

  it("leaves out inputs given as undefined and outputs null when the function returns nothing", () => {
    const wf = workflow({ name: "no_output" }, () => {
      sum({ values: [1], label: undefined });
    });
    const spec = wf.build().workflow;
    expect(spec.nodes[0]?.inputs).toEqual({ values: { kind: "literal", value: [1] } });
    expect(spec.output).toEqual({ kind: "literal", value: null });
  });

  it("records .map as a map node with its lists and fixed inputs", () => {
    const wf = workflow({ name: "fan_out", inputs: { xs: z.array(z.number()) } }, ({ xs }) => {
      const points = makePoint.map({ x: xs }, { y: 2 });
      const more = makePoint.map({ x: [1, 2], y: [3, 4] });
      return { points, first: more[0] };
    });
    const { nodes, output } = wf.build().workflow;
    expect(nodes).toEqual([
      {
        kind: "map",
        id: "n0",
        task: "make_point",
        over: { x: { kind: "input", name: "xs" } },
        inputs: { y: { kind: "literal", value: 2 } },
      },
      {
        kind: "map",
        id: "n1",
        task: "make_point",
        over: { x: { kind: "literal", value: [1, 2] }, y: { kind: "literal", value: [3, 4] } },
        inputs: {},
      },
    ]);
    expect(output).toEqual({
      kind: "object",
      fields: {
        points: { kind: "node", node: "n0" },
        first: { kind: "node", node: "n1", path: [0] },
      },
    });
  });

  it("describes workflow inputs as JSON Schema; defaults make them optional", () => {
    const wf = workflow(
      {
        name: "inputs",
        inputs: { name: z.string().default("world"), n: z.number(), tag: z.string().optional() },
      },
      ({ n }) => makePoint({ x: n }),
    );
    const spec = wf.build().workflow;
    expect(spec.inputs.name).toMatchObject({ type: "string", default: "world" });
    expect(spec.required).toEqual(["n"]);
  });

  it("runs the workflow function once and hands out copies", () => {
    let calls = 0;
    const wf = workflow({ name: "cached", inputs: { x: z.number() } }, ({ x }) => {
      calls++;
      return makePoint({ x });
    });
    const first = wf.build();
    first.workflow.nodes.length = 0;
    const second = wf[ENTITY].build();
    expect(calls).toBe(1);
    expect(second.workflow.nodes).toHaveLength(1);
    expect([...wf[ENTITY].taskEntities().keys()]).toEqual(["make_point"]);
    expect(wf[ENTITY].taskEntities().get("make_point")).toBe(makePoint[ENTITY]);
  });

  it("is found by findEntities with the tasks it calls", () => {
    const wf = workflow({ name: "found", inputs: { x: z.number() } }, ({ x }) =>
      norm({ point: makePoint({ x }) }),
    );
    const found = findEntities({ wf });
    expect([...found.workflows.keys()]).toEqual(["found"]);
    expect([...found.tasks.keys()].sort()).toEqual(["make_point", "norm"]);
  });
});

describe("mistakes found while building", () => {
  it("names an unknown or missing task input at the call", () => {
    const typo = workflow({ name: "typo", inputs: { x: z.number() } }, ({ x }) =>
      makePoint({ xx: x } as never),
    );
    expect(() => typo.build()).toThrow(InvalidInputsError);
    expect(() => typo.build()).toThrow(
      'unknown input "xx" for task "make_point" in workflow "typo" (it takes: x, y)',
    );
    expect(() => typo.build()).toThrow(
      'missing required input "x" for task "make_point" in workflow "typo"',
    );
  });

  it("checks literal values against the input schema", () => {
    const wf = workflow({ name: "literal" }, () => makePoint({ x: "3" as unknown as number }));
    expect(() => wf.build()).toThrow('input "x": expected number, received string');
    const mapped = workflow({ name: "literal_map" }, () =>
      makePoint.map({ x: [1, "2" as unknown as number] }),
    );
    expect(() => mapped.build()).toThrow('input "x[1]": expected number, received string');
  });

  it("reports problems the contracts find in the DAG", () => {
    const noList = task({ name: "no_inputs", inputs: {}, output: z.number() }, () => 1);
    const wf = workflow({ name: "no_list" }, () => noList.map({}));
    expect(() => wf.build()).toThrow(
      /workflow "no_list" is not valid:\n {2}- node n0 \(no_inputs\) maps over no list/,
    );
  });

  it("refuses to build a workflow inside another workflow's build", () => {
    const inner = workflow({ name: "inner" }, () => makePoint({ x: 1 }));
    const outer = workflow({ name: "outer" }, () => {
      inner.build();
      return null;
    });
    expect(() => outer.build()).toThrow(
      'cannot build workflow "inner" while building workflow "outer"',
    );
    // The failed build leaves nothing behind: both build on their own afterwards.
    expect(inner.build().workflow.nodes).toHaveLength(1);
  });

  it("refuses to run a workflow or a task while building, even one already built", () => {
    const inner = workflow({ name: "inner_built" }, () => makePoint({ x: 1 }));
    inner.build();
    const runsWorkflow = workflow({ name: "runs_workflow" }, () => {
      void inner.run();
      return null;
    });
    expect(() => runsWorkflow.build()).toThrow(
      'cannot run workflow "inner_built" while building workflow "runs_workflow"',
    );
    const runsTask = workflow({ name: "runs_task" }, () => {
      void makePoint.run({ x: 1 });
      return null;
    });
    expect(() => runsTask.build()).toThrow(
      'make_point.run cannot be used while building workflow "runs_task"',
    );
  });

  it("refuses an async workflow function", () => {
    const wf = workflow({ name: "asynchronous", inputs: { x: z.number() } }, async ({ x }) =>
      makePoint({ x }),
    );
    expect(() => wf.build()).toThrow("the workflow function returned a Promise");
  });

  it("refuses two different tasks with the same name", () => {
    const twin = task({ name: "norm", inputs: {}, output: z.number() }, () => 0);
    const wf = workflow({ name: "twins" }, () => [norm({ point: { x: 1, y: 1 } }), twin({})]);
    expect(() => wf.build()).toThrow('workflow "twins" calls two different tasks named "norm"');
  });

  it("explains that a Ref has no value while building", () => {
    const wf = workflow({ name: "template", inputs: { name: z.string() } }, ({ name }) =>
      sum({ values: [1], label: `Hi ${name as unknown as string}` }),
    );
    expect(() => wf.build()).toThrow(
      "inputs.name is a Ref, a placeholder for a value that exists only when the workflow runs",
    );
  });

  it("refuses a Ref from another workflow", () => {
    let leaked: Ref<number> | undefined;
    const first = workflow({ name: "first", inputs: { x: z.number() } }, ({ x }) => {
      leaked = x;
      return makePoint({ x });
    });
    first.build();
    const second = workflow({ name: "second" }, () => makePoint({ x: leaked as Ref<number> }));
    expect(() => second.build()).toThrow(
      'input "x" of task "make_point" in workflow "second" is a Ref from workflow "first"',
    );
  });

  it("refuses values that are not JSON", () => {
    const wf = workflow({ name: "not_json" }, () =>
      sum({ values: new Set([1]) as unknown as number[] }),
    );
    expect(() => wf.build()).toThrow(
      'input "values" of task "sum" in workflow "not_json" is a Set',
    );
  });

  it("rejects invalid workflow names", () => {
    expect(() => workflow({ name: "my workflow" }, () => null)).toThrow(
      'workflow name "my workflow" is not valid',
    );
  });
});
