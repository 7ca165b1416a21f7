import type { RunEvent } from "@drydock/sdk";
import {
  COPILOT_EXTENSION,
  ENTITY,
  entityOf,
  runWorkflow,
  TaskFailedError,
  VIM_EXTENSION,
} from "@drydock/sdk";
import { describe, expect, it } from "vitest";

import { failing, flakyAttempts } from "./failing/workflow.js";
import { wf } from "./hello/workflow.js";
import * as basic from "./interactive/basic/workflow.js";
import * as extensions from "./interactive/extensions/workflow.js";
import * as resources from "./interactive/manage-resources/workflow.js";
import * as hooks from "./interactive/pre-post-hooks/workflow.js";
import * as runTaskFirst from "./interactive/run-task-first/workflow.js";
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
    const squares = events
      .filter((e) => e.task === "square" && e.status === "SUCCEEDED")
      .map((e) => e.nodeId);
    expect(squares.sort()).toEqual(["n1[0]", "n1[1]", "n1[2]"]);
  });
});

describe("failing", () => {
  it("runs flaky three times (retries: 2) and then fails the run", async () => {
    const before = flakyAttempts();
    const events: RunEvent[] = [];
    const error = await runWorkflow(failing, {}, { onEvent: (e) => events.push(e) }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).message).toBe(
      "task flaky (n0) failed: the flaky task failed on purpose",
    );
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

describe("wide", () => {
  it("builds 1,000 nodes (999 doubles feeding one sum) and sums the doubles of 0..998", async () => {
    const { wide, WIDTH } = await import("./wide/workflow.js");
    const entity = entityOf(wide);
    expect(entity?.kind === "workflow" ? entity.build().workflow.nodes : []).toHaveLength(
      WIDTH + 1,
    );
    await expect(runWorkflow(wide, {})).resolves.toBe(WIDTH * (WIDTH - 1));
  });
});

// Run locally, `vscode(...)` is a pass-through: the task simply runs, no IDE starts and no hook runs.
describe("interactive", () => {
  it("basic: say_hello runs, with the default interactive settings", async () => {
    await expect(runWorkflow(basic.interactiveBasic, {})).resolves.toBe("Hello, world!");
    await expect(runWorkflow(basic.interactiveBasic, { name: "Ada" })).resolves.toBe("Hello, Ada!");
    expect(basic.sayHello[ENTITY].spec.interactive).toEqual({
      enable: true,
      maxIdleSeconds: 36_000,
      runTaskFirst: false,
      preExecute: false,
      extensions: [],
    });
  });

  it("extensions: say_hello runs, and its session installs Copilot and Vim", async () => {
    await expect(runWorkflow(extensions.interactiveExtensions, { name: "Ada" })).resolves.toBe(
      "Hello, Ada!",
    );
    expect(extensions.sayHello[ENTITY].spec.interactive?.extensions).toEqual([
      COPILOT_EXTENSION,
      VIM_EXTENSION,
    ]);
  });

  it("manage resources: say_hello runs, idles out after 60 000 s and asks for 1 CPU and 512 MiB", async () => {
    await expect(runWorkflow(resources.interactiveResources, { name: "Ada" })).resolves.toBe(
      "Hello, Ada!",
    );
    const spec = resources.sayHello[ENTITY].spec;
    expect(spec.interactive?.maxIdleSeconds).toBe(60_000);
    expect(spec.resources).toEqual({ cpu: 1, memoryMiB: 512 });
  });

  it("pre/post hooks: say_hello runs; the hooks are wired but only run around a real session", async () => {
    await expect(runWorkflow(hooks.interactiveHooks, { name: "Ada" })).resolves.toBe("Hello, Ada!");
    expect(hooks.hookCalls()).toEqual([]);
    const options = hooks.sayHello[ENTITY].interactive?.options;
    expect(options?.preExecute).toBe(hooks.setUpProxy);
    expect(options?.postExecute).toBe(hooks.pushCode);
  });

  it("run task first: say_hello succeeds on a name and fails on a blank, without an IDE either way", async () => {
    expect(runTaskFirst.sayHello[ENTITY].spec.interactive?.runTaskFirst).toBe(true);
    await expect(runWorkflow(runTaskFirst.interactiveRunTaskFirst, {})).resolves.toBe(
      "Hello, world!",
    );
    const error = await runWorkflow(runTaskFirst.interactiveRunTaskFirst, { name: " " }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).message).toBe(
      "task say_hello (n0) failed: say_hello needs a name, not a blank",
    );
  });
});
