import type { NodeSpec } from "@drydock/contracts";
import { describe, expect, it } from "vitest";

import type { ExecutionDetail } from "../ui/types.js";
import { dagEdges, dagFromDetail, dagFromSpec, executionDag } from "./graph.js";

const task = (id: string, name: string, inputs: NodeSpec["inputs"] = {}): NodeSpec => ({
  kind: "task",
  id,
  task: name,
  inputs,
});

describe("dagEdges", () => {
  it("finds node references inside nested list and object bindings, once each", () => {
    const n2 = task("n2", "report", {
      all: {
        kind: "list",
        items: [
          { kind: "node", node: "n0" },
          {
            kind: "object",
            fields: {
              a: { kind: "node", node: "n1", path: ["x"] },
              b: { kind: "literal", value: 1 },
            },
          },
          { kind: "node", node: "n0", path: [0] },
        ],
      },
      name: { kind: "input", name: "name" },
    });
    expect(dagEdges([task("n0", "a"), task("n1", "b"), n2])).toEqual([
      { source: "n0", target: "n2" },
      { source: "n1", target: "n2" },
    ]);
  });

  it("counts what a map node maps over as well as its fixed inputs", () => {
    const map: NodeSpec = {
      kind: "map",
      id: "n2",
      task: "square",
      over: { x: { kind: "node", node: "n0" } },
      inputs: { k: { kind: "node", node: "n1" } },
    };
    expect(dagEdges([task("n0", "numbers"), task("n1", "k"), map]).map((e) => e.source)).toEqual([
      "n1",
      "n0",
    ]);
  });

  it("drops references to nodes the spec lacks and self references", () => {
    expect(
      dagEdges([
        task("n0", "a", { x: { kind: "node", node: "n7" } }),
        task("n1", "b", { x: { kind: "node", node: "n1" } }),
      ]),
    ).toEqual([]);
  });
});

describe("dagFromSpec", () => {
  it("has one node per spec node, marked interactive when its task is", () => {
    const graph = dagFromSpec(
      {
        nodes: [task("n0", "say_hello"), task("n1", "plain", { g: { kind: "node", node: "n0" } })],
      },
      [
        {
          name: "say_hello",
          interactive: {
            enable: true,
            maxIdleSeconds: 60,
            runTaskFirst: false,
            preExecute: false,
            extensions: [],
          },
        },
        { name: "plain" },
      ],
    );
    expect(graph.nodes).toEqual([
      { id: "n0", task: "say_hello", kind: "task", interactive: true },
      { id: "n1", task: "plain", kind: "task", interactive: false },
    ]);
    expect(graph.edges).toEqual([{ source: "n0", target: "n1" }]);
  });

  it("does not mark a task whose vscode(...) is disabled", () => {
    const graph = dagFromSpec({ nodes: [task("n0", "t")] }, [
      {
        name: "t",
        interactive: {
          enable: false,
          maxIdleSeconds: 60,
          runTaskFirst: false,
          preExecute: false,
          extensions: [],
        },
      },
    ]);
    expect(graph.nodes[0]?.interactive).toBe(false);
  });
});

const T = "2030-01-01T00:00:00.000Z";
function detail(extra: Partial<ExecutionDetail["execution"]> = {}): ExecutionDetail {
  return {
    execution: {
      id: "x1",
      project: "default",
      workflow: "wf",
      version: "v1",
      status: "RUNNING",
      overwriteCache: false,
      pauseBefore: [],
      inputs: {},
      createdAt: T,
      ...extra,
    },
    nodes: [
      { executionId: "x1", nodeId: "n0", task: "numbers", status: "SUCCEEDED", attempts: [] },
      { executionId: "x1", nodeId: "n1", task: "square", status: "RUNNING", attempts: [] },
      {
        executionId: "x1",
        nodeId: "n1[0]",
        task: "square",
        parentNodeId: "n1",
        mapIndex: 0,
        status: "RUNNING",
        attempts: [],
      },
    ],
  };
}

describe("dagFromDetail / executionDag", () => {
  it("draws what ran when there is no spec: top-level nodes, a node with elements as a map", () => {
    expect(dagFromDetail(detail()).nodes).toEqual([
      { id: "n0", task: "numbers", kind: "task", interactive: false },
      { id: "n1", task: "square", kind: "map", interactive: false },
    ]);
  });

  it("draws a debug run as the one node it re-runs, interactive, whatever the registered DAG", () => {
    const debug = detail({ debugOf: { executionId: "x0", nodeId: "n3" } });
    debug.nodes = [
      { executionId: "x1", nodeId: "n3", task: "total", status: "RUNNING", attempts: [] },
    ];
    const graph = executionDag(debug, {
      nodes: [task("n0", "numbers"), task("n3", "total", { v: { kind: "node", node: "n0" } })],
    });
    expect(graph).toEqual({
      nodes: [{ id: "n3", task: "total", kind: "task", interactive: true }],
      edges: [],
    });
  });

  it("marks a node that held a session as interactive", () => {
    const d = detail();
    d.nodes[0] = {
      ...d.nodes[0]!,
      attempts: [
        {
          id: "a",
          executionId: "x1",
          nodeId: "n0",
          number: 1,
          status: "RUNNING",
          createdAt: T,
          session: {
            id: "s",
            attemptId: "a",
            state: "READY",
            maxIdleSeconds: 5,
            maxUnopenedSeconds: 60,
            limit: "idle",
            extensionProblems: [],
            hasChanges: false,
            createdAt: T,
          },
        },
      ],
    };
    const graph = executionDag(d, { nodes: [task("n0", "numbers"), task("n1", "square")] });
    expect(graph.nodes.map((n) => n.interactive)).toEqual([true, false]);
  });
});
