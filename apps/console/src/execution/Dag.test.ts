import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import type { NodeExecution } from "../ui/types.js";
import type { NodeView } from "./Dag.js";
import { NodeBody, nodeViews } from "./Dag.js";
import type { DagGraph } from "./graph.js";

const view = (extra: Partial<NodeView> = {}): NodeView => ({
  nodeId: "n1",
  task: "load",
  status: "SUCCEEDED",
  interactive: false,
  selected: false,
  ...extra,
});

const render = (v: NodeView) => renderToStaticMarkup(createElement(NodeBody, { view: v }));

describe("NodeBody", () => {
  it("marks a node that reused its parent's outputs, saying from where", () => {
    const html = render(view({ reused: { from: "parent", executionId: "x0abc", nodeId: "n1" } }));
    expect(html).toMatch(
      /<button type="button" class="dag-node dag-tone-ok dag-reused" data-testid="dag-node-n1" data-status="SUCCEEDED" data-reused="parent" title="Not run: outputs reused from execution x0abc node n1"/,
    );
    expect(html).toContain('<span class="dag-node-reused">reused</span>');
  });

  it("marks a cached node as cached", () => {
    const html = render(view({ reused: { from: "cache", executionId: "x9", nodeId: "n4" } }));
    expect(html).toContain(
      'data-reused="cache" title="Not run: cached outputs from execution x9 node n4"',
    );
    expect(html).toContain('<span class="dag-node-reused">cached</span>');
  });

  it("leaves a node that ran unmarked", () => {
    const html = render(view());
    expect(html).not.toContain("data-reused");
    expect(html).not.toContain("dag-reused");
    expect(html).not.toContain("title=");
  });
});

describe("nodeViews", () => {
  const graph: DagGraph = {
    nodes: [
      { id: "n1", task: "load", kind: "task", interactive: false },
      { id: "n2", task: "train", kind: "task", interactive: false },
    ],
    edges: [{ source: "n1", target: "n2" }],
  };
  const live = (nodeId: string, extra: Partial<NodeExecution> = {}): NodeExecution => ({
    executionId: "x1",
    nodeId,
    task: "load",
    status: "PENDING",
    attempts: [],
    ...extra,
  });

  it("redraws a node once it is known to be reused, and only that one", () => {
    const before = nodeViews(
      {
        graph,
        nodes: new Map([
          ["n1", live("n1", { status: "SUCCEEDED" })],
          ["n2", live("n2")],
        ]),
        fanouts: new Map(),
      },
      undefined,
      new Map(),
    );
    const reused = { from: "parent" as const, executionId: "x0", nodeId: "n1" };
    const after = nodeViews(
      {
        graph,
        nodes: new Map([
          ["n1", live("n1", { status: "SUCCEEDED", reused })],
          ["n2", live("n2")],
        ]),
        fanouts: new Map(),
      },
      undefined,
      before.views,
    );
    expect([...after.changed]).toEqual(["n1"]);
    expect(after.views.get("n1")?.view.reused).toEqual(reused);
    expect(after.views.get("n2")).toBe(before.views.get("n2"));
  });
});
