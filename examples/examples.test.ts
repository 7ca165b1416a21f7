import type { RunEvent } from "@drydock/sdk";
import { runWorkflow, TaskFailedError } from "@drydock/sdk";
import { describe, expect, it } from "vitest";

import { failing, flakyAttempts } from "./failing/workflow.js";
import { wf } from "./hello/workflow.js";
import { pipeline } from "./pipeline/workflow.js";

describe("hello", () => {
  it("greets the world by default", async () => {
    await expect(runWorkflow(wf, {})).resolves.toBe("Hello, world!");
  });

  it("greets the name it is given", async () => {
    await expect(runWorkflow(wf, { name: "Ada" })).resolves.toBe("Hello, Ada!");
  });
});

describe("pipeline", () => {
  it("sums the squares of 1..count", async () => {
    await expect(runWorkflow(pipeline, {})).resolves.toBe("sum of squares of 1..4 is 30");
    await expect(pipeline.run({ count: 10 })).resolves.toBe("sum of squares of 1..10 is 385");
  });

  it("fans square out once per number", async () => {
    const events: RunEvent[] = [];
    await runWorkflow(pipeline, { count: 3 }, { onEvent: (e) => events.push(e) });
    const squares = events.filter((e) => e.task === "square" && e.status === "SUCCEEDED").map((e) => e.nodeId);
    expect(squares.sort()).toEqual(["n1[0]", "n1[1]", "n1[2]"]);
  });
});

describe("failing", () => {
  it("runs flaky three times (retries: 2) and then fails the run", async () => {
    const before = flakyAttempts();
    const events: RunEvent[] = [];
    const error = await runWorkflow(failing, {}, { onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).message).toBe("task flaky (n0) failed: the flaky task failed on purpose");
    expect((error as TaskFailedError).nodeId).toBe("n0");
    expect(flakyAttempts() - before).toBe(3);
    expect(events.filter((e) => e.status === "FAILED").map((e) => e.attempt)).toEqual([1, 2, 3]);
  });
});

describe("fanout", () => {
  it("counts every element of its fan-out", async () => {
    const { fanout } = await import("./fanout/workflow.js");
    await expect(runWorkflow(fanout, { count: 50 })).resolves.toBe(50);
  });
});
