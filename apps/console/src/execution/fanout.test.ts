import { describe, expect, it } from "vitest";

import type { ExecutionDetail, NodeExecution, NodeStatus } from "../ui/types.js";
import { describeFanout, elementsOf, fanoutSummaries } from "./fanout.js";

const element = (parent: string, index: number, status: NodeStatus): NodeExecution => ({
  executionId: "x",
  nodeId: `${parent}[${index}]`,
  task: "t",
  parentNodeId: parent,
  mapIndex: index,
  status,
  attempts: [],
});

function detail(nodes: NodeExecution[]): ExecutionDetail {
  return {
    execution: {
      id: "x",
      project: "default",
      workflow: "w",
      version: "v",
      status: "RUNNING",
      overwriteCache: false,
      pauseBefore: [],
      inputs: {},
      createdAt: "2030-01-01T00:00:00Z",
    },
    nodes,
  };
}

describe("fanoutSummaries / describeFanout", () => {
  it("counts each map node's elements by status", () => {
    const nodes = [
      {
        executionId: "x",
        nodeId: "n1",
        task: "t",
        status: "RUNNING",
        attempts: [],
      } as NodeExecution,
      ...Array.from({ length: 998 }, (_, i) => element("n1", i, "SUCCEEDED")),
      element("n1", 998, "RUNNING"),
      element("n1", 999, "RUNNING"),
      element("n2", 0, "FAILED"),
    ];
    const summaries = fanoutSummaries(detail(nodes));
    expect(describeFanout(summaries.get("n1"))).toBe("1000 elements · 998 succeeded · 2 running");
    expect(describeFanout(summaries.get("n2"))).toBe("1 element · 1 failed");
    expect(summaries.has("n0")).toBe(false);
  });

  it("says so when a fan-out has no elements yet", () => {
    expect(describeFanout(undefined)).toBe("No elements yet");
    expect(describeFanout({ total: 0, counts: {} })).toBe("No elements yet");
  });
});

describe("elementsOf", () => {
  it("lists a map node's elements by index", () => {
    const nodes = [
      element("n1", 2, "QUEUED"),
      element("n1", 0, "SUCCEEDED"),
      element("n3", 0, "QUEUED"),
      element("n1", 1, "RUNNING"),
    ];
    expect(elementsOf(detail(nodes), "n1").map((n) => n.nodeId)).toEqual([
      "n1[0]",
      "n1[1]",
      "n1[2]",
    ]);
  });
});
