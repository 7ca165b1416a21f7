import { describe, expect, it } from "vitest";

import { drydock, example } from "./harness.js";

describe("drydock run (local, in process)", () => {
  it('prints "Hello, world!" as exactly one JSON value', async () => {
    const r = await drydock(["run", example("hello/workflow.ts"), "wf", "--output", "json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('"Hello, world!"\n');
  });

  it("takes inputs as --<input> <value>", async () => {
    const r = await drydock([
      "run",
      example("hello/workflow.ts"),
      "wf",
      "--name",
      "Ada",
      "--output",
      "json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBe("Hello, Ada!");
  });

  it("rejects a misspelt input, naming it, before anything runs", async () => {
    const r = await drydock([
      "run",
      example("hello/workflow.ts"),
      "wf",
      "--nmae",
      "Ada",
      "--output",
      "json",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("nmae");
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toContain("say_hello RUNNING");
  });

  it("rejects a mistyped input, naming it", async () => {
    const r = await drydock([
      "run",
      example("pipeline/workflow.ts"),
      "pipeline",
      "--count",
      "many",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("count");
  });

  it("runs the pipeline example with its fan-out", async () => {
    const r = await drydock([
      "run",
      example("pipeline/workflow.ts"),
      "pipeline",
      "--count",
      "4",
      "--output",
      "json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBe("sum of squares of 1..4 is 30");
  });

  it("names an unknown workflow", async () => {
    const r = await drydock(["run", example("hello/workflow.ts"), "nope"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/workflow "nope" is not exported.*wf/);
  });

  it("shows a failing task's message and stack and exits 1", async () => {
    const r = await drydock(["run", example("failing/workflow.ts"), "failing"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the flaky task failed on purpose");
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});
