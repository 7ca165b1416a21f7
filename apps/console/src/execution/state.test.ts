import { describe, expect, it } from "vitest";

import type {
  Attempt,
  ExecutionDetail,
  ExecutionEvent,
  InteractiveSession,
  NodeExecution,
} from "../ui/types.js";
import {
  applyEvent,
  applyEvents,
  dagNodeIdOf,
  mergeNodeViews,
  parseElementId,
  placeholderAttempt,
} from "./state.js";

const X = "xexec";
const T0 = "2030-01-01T00:00:00.000Z";
const T1 = "2030-01-01T00:00:01.000Z";
const T2 = "2030-01-01T00:00:02.000Z";

function node(nodeId: string, extra: Partial<NodeExecution> = {}): NodeExecution {
  return { executionId: X, nodeId, task: "double", status: "PENDING", attempts: [], ...extra };
}

function attempt(nodeId: string, number: number, extra: Partial<Attempt> = {}): Attempt {
  return {
    id: `${X}.${nodeId}.a${number}`,
    executionId: X,
    nodeId,
    number,
    status: "QUEUED",
    createdAt: T0,
    ...extra,
  };
}

function session(extra: Partial<InteractiveSession> = {}): InteractiveSession {
  return {
    id: "s1",
    attemptId: `${X}.n0.a1`,
    state: "STARTING",
    maxIdleSeconds: 60,
    maxUnopenedSeconds: 60,
    limit: "idle",
    extensionProblems: [],
    hasChanges: false,
    createdAt: T0,
    ...extra,
  };
}

function detail(nodes: NodeExecution[] = [node("n0"), node("n1")]): ExecutionDetail {
  return {
    execution: {
      id: X,
      project: "default",
      workflow: "wf",
      version: "v1",
      status: "RUNNING",
      overwriteCache: false,
      pauseBefore: [],
      inputs: {},
      createdAt: T0,
    },
    nodes,
  };
}

const nodeEvent = (
  nodeId: string,
  status: NodeExecution["status"],
  extra: Partial<Extract<ExecutionEvent, { type: "node" }>> = {},
): ExecutionEvent => ({
  type: "node",
  executionId: X,
  nodeId,
  status,
  at: T1,
  ...extra,
});

describe("applyEvents", () => {
  it("takes the snapshot as the state, and a later snapshot replaces it whole", () => {
    const first = detail();
    expect(applyEvent(undefined, { type: "snapshot", detail: first })).toBe(first);
    const second = detail([node("n0", { status: "SUCCEEDED" })]);
    const state = applyEvents(first, [
      nodeEvent("n1", "RUNNING", { attempt: 1 }),
      { type: "snapshot", detail: second },
    ]);
    expect(state).toBe(second);
  });

  it("ignores changes before the first snapshot and changes of another execution", () => {
    expect(applyEvent(undefined, nodeEvent("n0", "RUNNING"))).toBeUndefined();
    const state = detail();
    expect(
      applyEvent(state, { ...nodeEvent("n0", "RUNNING"), executionId: "other" } as ExecutionEvent),
    ).toBe(state);
  });

  it("moves a node to RUNNING, setting startedAt once, and leaves the other nodes as they were", () => {
    const before = detail();
    const running = applyEvent(before, nodeEvent("n0", "RUNNING", { attempt: 1 }));
    expect(running?.nodes[0]).toMatchObject({ status: "RUNNING", startedAt: T1 });
    expect(running?.nodes[1]).toBe(before.nodes[1]);
    expect(before.nodes[0]?.status).toBe("PENDING");
    const again = applyEvent(running, nodeEvent("n0", "RUNNING", { attempt: 1, at: T2 }));
    expect(again?.nodes[0]?.startedAt).toBe(T1);
  });

  it("sets endedAt and the error when a node ends", () => {
    const error = { message: "boom", stack: "Error: boom\n    at task.ts:3" };
    const state = applyEvents(detail(), [
      nodeEvent("n0", "RUNNING", { attempt: 1 }),
      nodeEvent("n0", "FAILED", { attempt: 1, at: T2, error }),
    ]);
    const n0 = state?.nodes[0];
    expect(n0).toMatchObject({ status: "FAILED", startedAt: T1, endedAt: T2, error });
    expect(n0?.attempts).toEqual([
      expect.objectContaining({ number: 1, status: "FAILED", startedAt: T1, endedAt: T2, error }),
    ]);
  });

  it("adds a placeholder attempt for a new attempt number and keeps attempts in order", () => {
    const withFirst = detail([
      node("n0", {
        status: "RUNNING",
        attempts: [attempt("n0", 1, { status: "RUNNING", startedAt: T0 })],
      }),
    ]);
    const failure = { message: "flaky" };
    const state = applyEvents(withFirst, [
      nodeEvent("n0", "QUEUED", { attempt: 2, error: failure }),
      nodeEvent("n0", "RUNNING", { attempt: 2, at: T2 }),
    ]);
    const attempts = state?.nodes[0]?.attempts ?? [];
    expect(attempts.map((a) => [a.number, a.status])).toEqual([
      [1, "RUNNING"],
      [2, "RUNNING"],
    ]);
    expect(attempts[1]).toMatchObject({ id: `${X}.n0.a2`, startedAt: T2, createdAt: T1 });
    // The retry's error is why attempt 1 ended, not the node's.
    expect(attempts[0]?.error).toEqual(failure);
    expect(state?.nodes[0]?.error).toBeUndefined();
  });

  it("clears endedAt when a node runs again", () => {
    const ended = detail([
      node("n0", {
        status: "FAILED",
        endedAt: T1,
        attempts: [attempt("n0", 1, { status: "FAILED" })],
      }),
    ]);
    const state = applyEvent(ended, nodeEvent("n0", "QUEUED", { attempt: 2 }));
    expect(state?.nodes[0]?.endedAt).toBeUndefined();
  });

  it("adds fan-out elements it has not seen, under their map node, with that node's task", () => {
    const state = applyEvents(
      detail([
        node("n0", { task: "indexes" }),
        node("n1", { task: "identity", status: "RUNNING" }),
      ]),
      [
        nodeEvent("n1[0]", "QUEUED", { attempt: 1 }),
        nodeEvent("n1[1]", "QUEUED", { attempt: 1 }),
        nodeEvent("n1[0]", "RUNNING", { attempt: 1 }),
      ],
    );
    expect(state?.nodes.map((n) => n.nodeId)).toEqual(["n0", "n1", "n1[0]", "n1[1]"]);
    expect(state?.nodes[2]).toMatchObject({
      task: "identity",
      parentNodeId: "n1",
      mapIndex: 0,
      status: "RUNNING",
    });
    expect(state?.nodes[3]?.attempts).toEqual([placeholderAttempt(X, "n1[1]", 1, T1)]);
  });

  it("aborts the live attempt of a node aborted without an attempt number, but not a finished one", () => {
    const state = applyEvents(
      detail([
        node("n0", { status: "RUNNING", attempts: [attempt("n0", 1, { status: "RUNNING" })] }),
        node("n1", { status: "SUCCEEDED", attempts: [attempt("n1", 1, { status: "SUCCEEDED" })] }),
      ]),
      [nodeEvent("n0", "ABORTED"), nodeEvent("n1", "ABORTED")],
    );
    expect(state?.nodes[0]?.attempts[0]).toMatchObject({ status: "ABORTED", endedAt: T1 });
    expect(state?.nodes[1]?.attempts[0]?.status).toBe("SUCCEEDED");
  });

  it("marks a skipped node ended without inventing an attempt", () => {
    const state = applyEvent(detail(), nodeEvent("n1", "SKIPPED"));
    expect(state?.nodes[1]).toMatchObject({ status: "SKIPPED", endedAt: T1, attempts: [] });
  });

  it("marks a node that succeeded by reusing outputs, without inventing an attempt", () => {
    const reused = {
      from: "parent" as const,
      executionId: "x0",
      nodeId: "n0",
      outputsSha256: "a".repeat(64),
    };
    const before = detail();
    const state = applyEvent(before, nodeEvent("n0", "SUCCEEDED", { reused }));
    expect(state?.nodes[0]).toMatchObject({ status: "SUCCEEDED", endedAt: T1, reused });
    expect(state?.nodes[0]?.attempts).toEqual([]);
    expect(state?.nodes[1]).toBe(before.nodes[1]);
    expect(before.nodes[0]?.reused).toBeUndefined();
  });

  it("ends the execution with its result, or its error", () => {
    const done = applyEvent(detail(), {
      type: "execution",
      executionId: X,
      status: "SUCCEEDED",
      result: 42,
      at: T2,
    });
    expect(done?.execution).toMatchObject({ status: "SUCCEEDED", result: 42, endedAt: T2 });
    const error = { message: "node n0 failed" };
    const failed = applyEvent(detail(), {
      type: "execution",
      executionId: X,
      status: "FAILED",
      error,
      at: T2,
    });
    expect(failed?.execution).toMatchObject({ status: "FAILED", error, endedAt: T2 });
    expect(failed?.execution.result).toBeUndefined();
  });

  it("keeps node changes made earlier in the same batch when the execution ends", () => {
    const state = applyEvents(detail(), [
      nodeEvent("n0", "SUCCEEDED", { attempt: 1 }),
      { type: "execution", executionId: X, status: "SUCCEEDED", at: T2 },
    ]);
    expect(state?.nodes[0]?.status).toBe("SUCCEEDED");
    expect(state?.execution.status).toBe("SUCCEEDED");
  });

  it("sets, then replaces, an attempt's session", () => {
    const start = detail([
      node("n0", { status: "RUNNING", attempts: [attempt("n0", 1, { status: "RUNNING" })] }),
    ]);
    const starting = session();
    const ready = session({ state: "READY", link: "http://s1.localhost:8485/", idleDeadline: T2 });
    const ev = (s: InteractiveSession): ExecutionEvent => ({
      type: "session",
      executionId: X,
      nodeId: "n0",
      attemptId: `${X}.n0.a1`,
      session: s,
    });
    const first = applyEvent(start, ev(starting));
    expect(first?.nodes[0]?.attempts[0]?.session).toEqual(starting);
    const second = applyEvent(first, ev(ready));
    expect(second?.nodes[0]?.attempts[0]?.session).toEqual(ready);
    expect(first?.nodes[0]?.attempts[0]?.session).toEqual(starting);
  });

  it("gives a session whose attempt it does not know by id to the latest attempt, taking the real id", () => {
    const start = detail([
      node("n0", { status: "RUNNING", attempts: [{ ...attempt("n0", 1), id: "made-up" }] }),
    ]);
    const s = session();
    const state = applyEvent(start, {
      type: "session",
      executionId: X,
      nodeId: "n0",
      attemptId: "real-id",
      session: s,
    });
    expect(state?.nodes[0]?.attempts[0]).toMatchObject({ id: "real-id", session: s });
  });

  it("ignores a session for a node it does not have", () => {
    const start = detail();
    const state = applyEvent(start, {
      type: "session",
      executionId: X,
      nodeId: "n9",
      attemptId: "a",
      session: session(),
    });
    expect(state?.nodes).toEqual(start.nodes);
  });

  // How long the batch takes is measured in bench/execution-view.ts; here only what it leaves.
  it("applies a thousand element events in one batch", () => {
    const events = Array.from({ length: 1_000 }, (_, i) =>
      nodeEvent(`n1[${i}]`, "SUCCEEDED", { attempt: 1 }),
    );
    const state = applyEvents(detail([node("n0"), node("n1")]), events);
    expect(state?.nodes).toHaveLength(1_002);
    expect(state?.nodes.at(-1)).toMatchObject({
      nodeId: "n1[999]",
      parentNodeId: "n1",
      mapIndex: 999,
      status: "SUCCEEDED",
      endedAt: T1,
    });
    expect(
      state?.nodes.slice(2).every((n) => n.status === "SUCCEEDED" && n.attempts.length === 1),
    ).toBe(true);
  });
});

describe("parseElementId", () => {
  it("reads the map node and index of an element, and nothing from a plain node", () => {
    expect(parseElementId("n12[345]")).toEqual({ parent: "n12", index: 345 });
    expect(parseElementId("n12")).toBeUndefined();
  });
});

describe("dagNodeIdOf", () => {
  it("draws an element as its map node, and any other node as itself", () => {
    expect(dagNodeIdOf("n12[345]")).toBe("n12");
    expect(dagNodeIdOf("n12")).toBe("n12");
  });
});

describe("mergeNodeViews", () => {
  it("keeps the fetched inputs and outputs and the live status, times and sessions", () => {
    const s = session({ state: "READY", link: "http://x" });
    const live = node("n0", {
      status: "SUCCEEDED",
      startedAt: T0,
      endedAt: T2,
      attempts: [attempt("n0", 1, { status: "SUCCEEDED", session: s })],
    });
    const fetched = node("n0", {
      status: "RUNNING",
      startedAt: T0,
      inputs: { x: 1 },
      outputs: 2,
      attempts: [attempt("n0", 1, { status: "RUNNING", id: "real" })],
    });
    const merged = mergeNodeViews(live, fetched);
    expect(merged).toMatchObject({
      status: "SUCCEEDED",
      endedAt: T2,
      inputs: { x: 1 },
      outputs: 2,
    });
    expect(merged?.attempts).toEqual([
      expect.objectContaining({ id: "real", status: "SUCCEEDED", session: s }),
    ]);
  });

  it("keeps attempts only one side knows, in order", () => {
    const live = node("n0", {
      status: "RUNNING",
      attempts: [attempt("n0", 1, { status: "FAILED" }), attempt("n0", 2, { status: "RUNNING" })],
    });
    const fetched = node("n0", {
      status: "FAILED",
      attempts: [attempt("n0", 1, { status: "FAILED", error: { message: "x", stack: "s" } })],
    });
    const merged = mergeNodeViews(live, fetched);
    expect(merged?.attempts.map((a) => [a.number, a.status])).toEqual([
      [1, "FAILED"],
      [2, "RUNNING"],
    ]);
    expect(merged?.attempts[0]?.error).toEqual({ message: "x", stack: "s" });
  });

  it("keeps the resume record whichever side has it", () => {
    const resume = { choice: "original" as const, by: "ada@example.com", at: T1 };
    const failed = (extra: Partial<Attempt> = {}) =>
      attempt("n0", 1, { status: "FAILED", ...extra });
    const withLive = mergeNodeViews(
      node("n0", { status: "RUNNING", attempts: [failed({ resume })] }),
      node("n0", { status: "RUNNING", attempts: [failed()] }),
    );
    expect(withLive?.attempts[0]?.resume).toEqual(resume);
    const withFetched = mergeNodeViews(
      node("n0", { status: "RUNNING", attempts: [failed()] }),
      node("n0", { status: "RUNNING", attempts: [failed({ resume })] }),
    );
    expect(withFetched?.attempts[0]?.resume).toEqual(resume);
  });

  it("does not show a stale end time on a node running again", () => {
    const merged = mergeNodeViews(
      node("n0", { status: "RUNNING", startedAt: T1 }),
      node("n0", { status: "FAILED", startedAt: T0, endedAt: T1 }),
    );
    expect(merged?.endedAt).toBeUndefined();
    expect(merged?.startedAt).toBe(T1);
  });

  it("keeps the live reuse mark until the fetched node has it too", () => {
    const reused = { from: "cache" as const, executionId: "x9", nodeId: "n0" };
    const merged = mergeNodeViews(
      node("n0", { status: "SUCCEEDED", reused }),
      node("n0", { status: "PENDING", inputs: { a: 1 } }),
    );
    expect(merged).toMatchObject({ status: "SUCCEEDED", reused, inputs: { a: 1 } });
  });

  it("uses whichever side it has when the other is missing", () => {
    const only = node("n0");
    expect(mergeNodeViews(only, undefined)).toBe(only);
    expect(mergeNodeViews(undefined, only)).toBe(only);
    expect(mergeNodeViews(undefined, undefined)).toBeUndefined();
  });
});
