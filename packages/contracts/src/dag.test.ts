import { describe, expect, it } from "vitest";

import { findWorkflowProblems, resolveBinding, resolveNodeInputs } from "./dag.js";
import type { TaskSpec } from "./tasks.js";
import type { NodeSpec, WorkflowSpec } from "./workflows.js";

const scope = (inputs: Record<string, unknown>, outputs: Record<string, unknown>) => ({
  input: (n: string) => inputs[n] as never,
  node: (id: string) => outputs[id] as never,
});

describe("resolveBinding", () => {
  it("follows paths into node outputs and builds lists and objects", () => {
    const s = scope({ name: "Ada" }, { n0: { stats: [3, 4] } });
    expect(
      resolveBinding(
        {
          kind: "object",
          fields: {
            who: { kind: "input", name: "name" },
            xs: {
              kind: "list",
              items: [
                { kind: "node", node: "n0", path: ["stats", 1] },
                { kind: "literal", value: 7 },
              ],
            },
          },
        },
        s,
      ),
    ).toEqual({ who: "Ada", xs: [4, 7] });
  });

  it("names the missing field or element", () => {
    const s = scope({}, { n0: { a: [1] } });
    expect(() => resolveBinding({ kind: "node", node: "n0", path: ["b"] }, s)).toThrow(
      'the output of n0 has no field "b"',
    );
    expect(() => resolveBinding({ kind: "node", node: "n0", path: ["a", 3] }, s)).toThrow(
      "the output of n0 has no element 3",
    );
  });
});

describe("resolveNodeInputs", () => {
  it("zips a map node's lists and adds its fixed inputs to every element", () => {
    const node: NodeSpec = {
      kind: "map",
      id: "n1",
      task: "t",
      over: { x: { kind: "node", node: "n0" }, y: { kind: "literal", value: ["a", "b"] } },
      inputs: { k: { kind: "literal", value: 1 } },
    };
    expect(resolveNodeInputs(node, scope({}, { n0: [10, 20] }))).toEqual([
      { k: 1, x: 10, y: "a" },
      { k: 1, x: 20, y: "b" },
    ]);
  });

  it("refuses lists of different lengths and non-lists", () => {
    const node: NodeSpec = {
      kind: "map",
      id: "n1",
      task: "t",
      over: { x: { kind: "node", node: "n0" }, y: { kind: "literal", value: [1] } },
      inputs: {},
    };
    expect(() => resolveNodeInputs(node, scope({}, { n0: [1, 2] }))).toThrow(/different lengths/);
    expect(() => resolveNodeInputs(node, scope({}, { n0: 5 }))).toThrow(/not a list/);
  });

  it("leaves a task input unset when the optional workflow input passed to it is unset", () => {
    const node: NodeSpec = {
      kind: "task",
      id: "n0",
      task: "t",
      inputs: { a: { kind: "input", name: "a" }, b: { kind: "literal", value: 2 } },
    };
    expect(resolveNodeInputs(node, scope({}, {}))).toEqual([{ b: 2 }]);
  });
});

describe("findWorkflowProblems", () => {
  const tasks = new Map<string, TaskSpec>([
    ["t", { name: "t", inputs: { x: {} }, required: ["x"], output: {}, retries: 0 }],
  ]);
  const wf = (
    nodes: NodeSpec[],
    output: WorkflowSpec["output"] = { kind: "literal", value: null },
  ): WorkflowSpec => ({ name: "w", inputs: { a: {} }, required: [], nodes, output });

  it("accepts a sound DAG", () => {
    expect(
      findWorkflowProblems(
        wf([{ kind: "task", id: "n0", task: "t", inputs: { x: { kind: "input", name: "a" } } }]),
        tasks,
      ),
    ).toEqual([]);
  });

  it("names unknown tasks, inputs, nodes, missing required inputs and cycles", () => {
    expect(
      findWorkflowProblems(wf([{ kind: "task", id: "n0", task: "nope", inputs: {} }]), tasks),
    ).toEqual(['node n0 (nope) calls task "nope", which is not registered with it']);
    expect(
      findWorkflowProblems(
        wf([{ kind: "task", id: "n0", task: "t", inputs: { y: { kind: "input", name: "zz" } } }], {
          kind: "node",
          node: "n9",
        }),
        tasks,
      ),
    ).toEqual([
      'node n0 (t) sets input "y", which the task does not have',
      'node n0 (t) does not set required input "x"',
      'node n0 (t) input "y" reads workflow input "zz", which is not declared',
      "the workflow output reads node n9, which does not exist",
    ]);
    expect(
      findWorkflowProblems(
        wf([
          { kind: "task", id: "n0", task: "t", inputs: { x: { kind: "node", node: "n1" } } },
          { kind: "task", id: "n1", task: "t", inputs: { x: { kind: "node", node: "n0" } } },
        ]),
        tasks,
      ),
    ).toEqual(["the nodes form a cycle: n0 → n1 → n0"]);
  });
});
