/**
 * What a Swarm task's states mean for an attempt, in the cases one engine cannot show: a node that went away
 * while its task was being stopped. The rest runs against the engine in swarm.test.ts.
 */
import { describe, expect, it } from "vitest";

import { exitOf, ServiceEnd } from "./swarm-task.js";
import type { SwarmTask } from "./swarm-task.js";

const task = (
  State: string,
  DesiredState: string,
  more: Partial<SwarmTask["Status"]> = {},
): SwarmTask => ({
  ServiceID: "s1",
  CreatedAt: "2026-12-07T00:00:00Z",
  DesiredState,
  Status: { State, ...more },
  Spec: {
    Placement: { Constraints: ["node.labels.gpu==true"] },
    Resources: { Reservations: { NanoCPUs: 2e9, MemoryBytes: 512 * 1024 * 1024 } },
  },
});
const running = { ContainerID: "c1", ExitCode: 0 };

describe("ServiceEnd", () => {
  const limits = { unplacedMs: 20_000, stoppingMs: 7_000 };

  it("waits for a removed service's task to stop, and gives up on it after stoppingMs (its node is gone)", () => {
    const end = new ServiceEnd(limits, () => undefined);
    const stopping = task("running", "remove", { ContainerStatus: running });
    expect(end.next({ task: task("running", "running"), exists: true }, 1_000)).toBeUndefined();
    expect(end.next({ task: stopping, exists: false }, 2_000)).toBeUndefined();
    expect(end.next({ task: stopping, exists: false }, 8_999)).toBeUndefined();
    expect(end.next({ task: stopping, exists: false }, 9_000)).toEqual({
      task: stopping,
      how: "removed",
    });
  });

  it("ends a removed service whose task stopped or vanished, with the last state seen", () => {
    const stopped = task("shutdown", "remove", {
      ContainerStatus: { ContainerID: "c1", ExitCode: 143 },
    });
    expect(new ServiceEnd(limits, () => undefined).next({ task: stopped, exists: false })).toEqual({
      task: stopped,
      how: "removed",
    });
    const end = new ServiceEnd(limits, () => undefined);
    const seen = task("running", "running", { ContainerStatus: running });
    end.next({ task: seen, exists: true }, 1_000);
    expect(end.next({ exists: false }, 1_500)).toEqual({ task: seen, how: "removed" });
  });

  it("tells once why no node takes a pending task, and ends it unplacedMs after the engine first said so", () => {
    const told: SwarmTask[] = [];
    const end = new ServiceEnd(limits, (t) => told.push(t));
    const pending = task("pending", "running", {
      Err: "no suitable node (scheduling constraints not satisfied on 3 nodes)",
    });
    expect(end.next({ task: task("pending", "running"), exists: true }, 500)).toBeUndefined();
    expect(told).toEqual([]);
    expect(end.next({ task: pending, exists: true }, 5_000)).toBeUndefined();
    expect(end.next({ task: pending, exists: true }, 24_999)).toBeUndefined();
    expect(told).toEqual([pending]);
    expect(end.next({ task: pending, exists: true }, 25_000)).toEqual({
      task: pending,
      how: "unplaced",
    });
  });

  it("waits past unplacedMs for a task the engine has not scheduled yet without a reason (a busy manager)", () => {
    const end = new ServiceEnd(limits, () => undefined);
    for (const state of ["new", "allocated", "pending"])
      expect(end.next({ task: task(state, "running"), exists: true }, 60_000)).toBeUndefined();
    const started = task("running", "running", { ContainerStatus: running });
    expect(end.next({ task: started, exists: true }, 61_000)).toBeUndefined();
  });

  it("ends a task that stopped by itself, and keeps waiting for one not created yet", () => {
    const end = new ServiceEnd(limits, () => undefined);
    expect(end.next({ exists: true }, 100)).toBeUndefined();
    const failed = task("failed", "shutdown", {
      ContainerStatus: { ContainerID: "c1", ExitCode: 7 },
    });
    expect(end.next({ task: failed, exists: true }, 200)).toEqual({ task: failed, how: "ended" });
  });
});

describe("exitOf", () => {
  it("reports a stopped container's code and signal, and no code for one still running when given up on", () => {
    const stopped = task("shutdown", "remove", {
      ContainerStatus: { ContainerID: "c1", ExitCode: 143 },
    });
    expect(exitOf({ task: stopped, how: "removed" }, "stopping\n", 20)).toEqual({
      code: 143,
      signal: "SIGTERM",
      tail: "stopping\n",
    });
    const stillRunning = task("running", "remove", { ContainerStatus: running });
    expect(exitOf({ task: stillRunning, how: "removed" }, "", 20)).toEqual({
      code: null,
      signal: null,
      tail: "",
    });
  });

  it("gives the engine's reason for a task that never ran, and what an unplaced one asks for", () => {
    const rejected = task("rejected", "shutdown", {
      Err: "No such image: x:1",
      ContainerStatus: { ContainerID: "", ExitCode: 0 },
    });
    expect(exitOf({ task: rejected, how: "ended" }, "", 20)).toEqual({
      code: null,
      signal: null,
      tail: "the swarm rejected the attempt's task: No such image: x:1",
    });
    const pending = task("pending", "running", {
      Err: "no suitable node (insufficient resources on 3 nodes)",
    });
    expect(exitOf({ task: pending, how: "unplaced" }, "", 20).tail).toBe(
      "no node of the swarm took the attempt within 20s: no suitable node (insufficient resources on 3 nodes); it asks for node.labels.gpu==true, 2 CPU, 512 MiB of memory",
    );
  });
});
