import { AppError } from "@drydock/contracts";
import { TRPCClientError } from "@trpc/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  createAgentClient,
  isServerUnreachable,
  ServerUnavailableError,
  withRetry,
} from "./client.js";
import { newState, TestControlPlane } from "./test/control-plane.js";
import type { ControlPlaneState } from "./test/control-plane.js";

function connectionRefused(): Error {
  return new TypeError("fetch failed", {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
  });
}

describe("isServerUnreachable", () => {
  it("recognises refused connections, gateway answers and their tRPC wrappers", () => {
    expect(isServerUnreachable(connectionRefused())).toBe(true);
    expect(isServerUnreachable(TRPCClientError.from(connectionRefused()))).toBe(true);
    expect(isServerUnreachable(new ServerUnavailableError(503, "http://x/trpc"))).toBe(true);
    expect(
      isServerUnreachable(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })),
    ).toBe(true);
  });

  it("does not treat an answered error as unreachable", () => {
    expect(isServerUnreachable(new Error("boom"))).toBe(false);
    expect(isServerUnreachable("fetch failed")).toBe(false);
    const answered = TRPCClientError.from({
      error: {
        message: "nope",
        code: -32603,
        data: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500 },
      },
    });
    expect(isServerUnreachable(answered)).toBe(false);
  });
});

describe("withRetry", () => {
  it("retries while the server is unreachable, then returns the answer", async () => {
    let calls = 0;
    const delays: number[] = [];
    const result = await withRetry(
      async () => {
        if (++calls < 4) throw connectionRefused();
        return "answer";
      },
      { maxDelayMs: 20, onRetry: (_error, _attempt, delayMs) => delays.push(delayMs) },
    );
    expect(result).toBe("answer");
    expect(calls).toBe(4);
    expect(delays).toHaveLength(3);
    expect(delays.every((d) => d <= 20)).toBe(true);
  });

  it("never retries an error the server answered", async () => {
    let calls = 0;
    const failing = withRetry(async () => {
      calls++;
      throw new Error("400 bad request");
    });
    await expect(failing).rejects.toThrow("400 bad request");
    expect(calls).toBe(1);
  });

  it("gives up once the server has been unreachable for reconnectSeconds", async () => {
    const started = Date.now();
    await expect(
      withRetry(() => Promise.reject(connectionRefused()), {
        reconnectSeconds: 0.3,
        maxDelayMs: 50,
      }),
    ).rejects.toThrow(/the server stayed unreachable for 0 s: fetch failed: connect ECONNREFUSED/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("the agent client against a real server", () => {
  let state: ControlPlaneState;
  let plane: TestControlPlane;
  let endpoint: string;

  beforeEach(async () => {
    state = newState(
      {
        attemptId: "att-1",
        executionId: "ex-1",
        nodeId: "n0",
        attemptNumber: 1,
        task: { name: "t", inputs: {}, required: [], output: {}, retries: 0 },
        bundle: { sha256: "a".repeat(64), url: "/b", entry: "wf.ts" },
        inputsUrl: "/i",
        outputsUploadUrl: "/o",
      },
      new Map(),
    );
    plane = new TestControlPlane(state);
    endpoint = await plane.listen();
  });
  afterEach(async () => {
    await plane.close();
  });

  it("sends the attempt token and retries through a proxy's 502 pages", async () => {
    state.gatewayErrors = 2;
    const client = createAgentClient({ endpoint, token: state.token });
    const retries: number[] = [];
    const assignment = await withRetry(() => client.agent.assignment.query(), {
      onRetry: (_e, attempt) => retries.push(attempt),
    });
    expect(assignment.attemptId).toBe("att-1");
    expect(retries).toEqual([1, 2]);
  });

  it("makes its calls on one kept-alive connection, a warm agent's next client included", async () => {
    const first = createAgentClient({ endpoint, token: state.token });
    await first.agent.assignment.query();
    await first.agent.started.mutate({ pid: 1 });
    await first.agent.heartbeat.mutate();
    const next = createAgentClient({ endpoint, token: state.token });
    expect((await next.agent.assignment.query()).attemptId).toBe("att-1");
    expect(state.calls.started).toEqual([{ pid: 1 }]);
    expect(state.calls.connections).toBe(1);
  });

  it("does not retry a 500 or a 401 the server answered", async () => {
    state.startedError = new AppError("BROKEN", "INTERNAL_SERVER_ERROR", "handler broke");
    const client = createAgentClient({ endpoint, token: state.token });
    await expect(withRetry(() => client.agent.started.mutate({ pid: 1 }))).rejects.toThrow(
      "handler broke",
    );
    expect(state.calls.started).toHaveLength(1);

    const stranger = createAgentClient({ endpoint, token: "wrong" });
    await expect(withRetry(() => stranger.agent.assignment.query())).rejects.toThrow(
      /attempt-scoped agent token is required/,
    );
  });
});
