import { describe, expect, it } from "vitest";

import { testSession } from "../__tests__/fixtures.js";
import type { NodeExecution, NodeReuse } from "../ui/types.js";
import {
  canFork,
  executionHref,
  forceChoices,
  parentVerb,
  recoverable,
  recoverNeedsForce,
  recoverProblem,
  reuseBadge,
  reuseLabel,
} from "./lineage.js";

const node = (extra: Partial<NodeExecution> = {}): NodeExecution => ({
  executionId: "x1",
  nodeId: "n3",
  task: "train",
  status: "FAILED",
  attempts: [],
  ...extra,
});

const withSession = (hasChanges: boolean, extra: Partial<NodeExecution> = {}) =>
  node({
    attempts: [
      {
        id: "x1.n3.a1",
        executionId: "x1",
        nodeId: "n3",
        number: 1,
        status: "FAILED",
        createdAt: "2030-01-01T00:00:00.000Z",
        session: testSession({ state: "ENDED", endReason: "idle", hasChanges }),
      },
    ],
    ...extra,
  });

describe("recoverable", () => {
  it("recovers an ended execution, never a running one or a debug run", () => {
    expect(recoverable({ status: "FAILED" })).toBe(true);
    expect(recoverable({ status: "ABORTED" })).toBe(true);
    expect(recoverable({ status: "SUCCEEDED" })).toBe(true);
    expect(recoverable({ status: "RUNNING" })).toBe(false);
    expect(recoverable({ status: "FAILED", debugOf: { executionId: "x0", nodeId: "n1" } })).toBe(
      false,
    );
  });

  it("needs a node to run again only when everything succeeded", () => {
    expect(recoverNeedsForce({ status: "SUCCEEDED" })).toBe(true);
    expect(recoverNeedsForce({ status: "FAILED" })).toBe(false);
    expect(recoverProblem({ status: "SUCCEEDED" }, [])).toMatch(/tick at least one/);
    expect(recoverProblem({ status: "SUCCEEDED" }, ["n1"])).toBeUndefined();
    expect(recoverProblem({ status: "FAILED" }, [])).toBeUndefined();
    expect(recoverProblem({ status: "RUNNING" }, ["n1"])).toMatch(/ended/);
  });

  it("offers the top-level nodes that succeeded, labelled with their task", () => {
    const choices = forceChoices([
      node({ nodeId: "n1", task: "load", status: "SUCCEEDED" }),
      node({ nodeId: "n2", status: "FAILED" }),
      node({ nodeId: "n4", status: "SUCCEEDED", task: "fanout" }),
      node({ nodeId: "n4[0]", status: "SUCCEEDED", parentNodeId: "n4", mapIndex: 0 }),
    ]);
    expect(choices).toEqual([
      { nodeId: "n1", task: "load", label: "Run n1 (load) again" },
      { nodeId: "n4", task: "fanout", label: "Run n4 (fanout) again" },
    ]);
  });
});

describe("canFork", () => {
  it("forks a node whose latest session saved edits, once the execution has ended", () => {
    expect(canFork(withSession(true), { status: "FAILED" })).toBe(true);
    expect(canFork(withSession(true), { status: "SUCCEEDED" })).toBe(true);
    expect(canFork(withSession(true), { status: "RUNNING" })).toBe(false);
    expect(canFork(withSession(false), { status: "FAILED" })).toBe(false);
    expect(canFork(node(), { status: "FAILED" })).toBe(false);
    expect(canFork(undefined, { status: "FAILED" })).toBe(false);
  });

  it("looks at the latest attempt's session only", () => {
    const edited = withSession(true);
    const first = edited.attempts[0];
    if (!first) throw new Error("fixture");
    const retried = {
      ...edited,
      attempts: [first, { ...first, id: "x1.n3.a2", number: 2, session: undefined }],
    };
    expect(canFork(retried, { status: "FAILED" })).toBe(false);
  });
});

describe("reuse labels", () => {
  const parent: NodeReuse = { from: "parent", executionId: "x0abc", nodeId: "n1" };
  const cache: NodeReuse = { from: "cache", executionId: "x9old", nodeId: "n2", attemptId: "a" };

  it("says where the outputs came from", () => {
    expect(reuseBadge(parent)).toBe("reused");
    expect(reuseBadge(cache)).toBe("cached");
    expect(reuseLabel(parent)).toBe("Not run: outputs reused from execution x0abc node n1");
    expect(reuseLabel(cache)).toBe("Not run: cached outputs from execution x9old node n2");
  });

  it("links an execution, and one of its nodes when named", () => {
    expect(executionHref("x0")).toBe("/executions/x0");
    expect(executionHref("x0", "n1[2]")).toBe("/executions/x0?node=n1%5B2%5D");
    expect(parentVerb({ executionId: "x0", kind: "recover", force: [] })).toBe("Recovered from");
    expect(parentVerb({ executionId: "x0", kind: "fork", nodeId: "n2", force: [] })).toBe(
      "Forked from",
    );
  });
});
