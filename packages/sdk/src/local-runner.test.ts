import { describe, expect, it } from "vitest";
import { z } from "zod";

import { ENTITY } from "./entity.js";
import { InvalidInputsError, TaskFailedError } from "./errors.js";
import type { RunEvent } from "./local-runner.js";
import { runWorkflow, validateWorkflowInputs } from "./local-runner.js";
import { task } from "./task.js";
import { workflow } from "./workflow.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const range = task(
  { name: "range", inputs: { count: z.number().int() }, output: z.array(z.number()) },
  ({ count }) => Array.from({ length: count }, (_, i) => i + 1),
);
// Later elements finish first, so order can only come from the runner putting outputs back in place.
const slowSquare = task(
  {
    name: "slow_square",
    inputs: { x: z.number(), offset: z.number().default(0) },
    output: z.number(),
  },
  async ({ x, offset }) => {
    await sleep(40 - x * 8);
    return x * x + offset;
  },
);
const total = task(
  { name: "total", inputs: { values: z.array(z.number()) }, output: z.number() },
  ({ values }) => values.reduce((a, b) => a + b, 0),
);
const format = task(
  {
    name: "format",
    inputs: { sum: z.number(), count: z.number(), label: z.string().optional() },
    output: z.string(),
  },
  (i) => `${i.label ?? "sum"} of ${i.count} is ${i.sum}`,
);

const pipeline = workflow(
  { name: "pipeline", inputs: { count: z.number().int().default(4) } },
  ({ count }) => {
    const numbers = range({ count });
    const squares = slowSquare.map({ x: numbers }, { offset: 0 });
    const sum = total({ values: squares });
    return { text: format({ sum, count }), squares, first: squares[0] };
  },
);

describe("runWorkflow", () => {
  it("passes data between tasks and resolves the workflow output", async () => {
    await expect(runWorkflow(pipeline, { count: 3 })).resolves.toEqual({
      text: "sum of 3 is 14",
      squares: [1, 4, 9],
      first: 1,
    });
    await expect(pipeline.run()).resolves.toMatchObject({ text: "sum of 4 is 30" });
  });

  it("fans out map nodes as n1[0], n1[1], … and keeps outputs in element order", async () => {
    const events: RunEvent[] = [];
    const result = await runWorkflow(pipeline, { count: 4 }, { onEvent: (e) => events.push(e) });
    expect(result).toMatchObject({ squares: [1, 4, 9, 16] });
    const succeeded = events.filter((e) => e.status === "SUCCEEDED").map((e) => e.nodeId);
    expect(succeeded.slice(1, 5).sort()).toEqual(["n1[0]", "n1[1]", "n1[2]", "n1[3]"]);
    // The elements really ran concurrently: the last one, the quickest, finished first.
    expect(succeeded[1]).toBe("n1[3]");
    expect(succeeded).toEqual(["n0", ...succeeded.slice(1, 5), "n2", "n3"]);
    expect(events.filter((e) => e.nodeId === "n0")).toEqual([
      { nodeId: "n0", task: "range", status: "RUNNING", attempt: 1 },
      { nodeId: "n0", task: "range", status: "SUCCEEDED", attempt: 1 },
    ]);
  });

  it("maps over an empty list to an empty list", async () => {
    const empty = workflow({ name: "empty_map", inputs: { xs: z.array(z.number()) } }, ({ xs }) =>
      slowSquare.map({ x: xs }),
    );
    await expect(runWorkflow(empty, { xs: [] })).resolves.toEqual([]);
  });

  it("never runs more tasks at once than the concurrency allows", async () => {
    let inFlight = 0;
    let most = 0;
    const tracked = task(
      { name: "tracked", inputs: { x: z.number() }, output: z.number() },
      async ({ x }) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await sleep(5);
        inFlight--;
        return x;
      },
    );
    const wf = workflow({ name: "bounded", inputs: { xs: z.array(z.number()) } }, ({ xs }) => [
      tracked.map({ x: xs }),
      tracked({ x: 0 }),
    ]);
    await expect(
      runWorkflow(wf, { xs: [1, 2, 3, 4, 5, 6, 7] }, { concurrency: 3 }),
    ).resolves.toEqual([[1, 2, 3, 4, 5, 6, 7], 0]);
    expect(most).toBe(3);
    most = 0;
    await runWorkflow(wf, { xs: [1, 2, 3, 4, 5, 6, 7] }, { concurrency: 1 });
    expect(most).toBe(1);
  });

  it("retries a failing task up to its retries and succeeds when an attempt does", async () => {
    let runs = 0;
    const shaky = task({ name: "shaky", inputs: {}, output: z.string(), retries: 2 }, () => {
      runs++;
      if (runs < 3) throw new Error(`failure ${runs}`);
      return "ok";
    });
    const events: RunEvent[] = [];
    const wf = workflow({ name: "retrying" }, () => shaky({}));
    await expect(runWorkflow(wf, {}, { onEvent: (e) => events.push(e) })).resolves.toBe("ok");
    expect(runs).toBe(3);
    expect(
      events.map((e) => `${e.status}#${e.attempt}${e.error ? `:${e.error.message}` : ""}`),
    ).toEqual([
      "RUNNING#1",
      "FAILED#1:failure 1",
      "RUNNING#2",
      "FAILED#2:failure 2",
      "RUNNING#3",
      "SUCCEEDED#3",
    ]);
  });

  it("fails with TaskFailedError holding the task's own error once retries are used up", async () => {
    let runs = 0;
    const original = new Error("always broken");
    const broken = task({ name: "broken", inputs: {}, output: z.null(), retries: 1 }, () => {
      runs++;
      throw original;
    });
    const wf = workflow({ name: "failing" }, () => broken({}));
    const error = (await runWorkflow(wf, {}).catch((e: unknown) => e)) as TaskFailedError;
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toBe("task broken (n0) failed: always broken");
    expect(error.nodeId).toBe("n0");
    expect(error.task).toBe("broken");
    expect(error.cause).toBe(original);
    expect(runs).toBe(2);
  });

  it("times out a task that runs longer than timeoutSeconds", async () => {
    const slow = task(
      { name: "slow", inputs: {}, output: z.null(), timeoutSeconds: 1 },
      () => new Promise<null>(() => undefined),
    );
    const wf = workflow({ name: "timing_out" }, () => slow({}));
    const started = Date.now();
    const error = (await runWorkflow(wf, {}).catch((e: unknown) => e)) as TaskFailedError;
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error.cause as Error).message).toBe("task slow timed out after 1s");
    expect(error.message).toBe("task slow (n0) failed: task slow timed out after 1s");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("stops scheduling after a failure: downstream and queued work never starts", async () => {
    const ran: string[] = [];
    const fail = task({ name: "fail", inputs: {}, output: z.number() }, async () => {
      await sleep(5);
      throw new Error("nope");
    });
    const record = task(
      {
        name: "record",
        inputs: { tag: z.string(), after: z.number().optional() },
        output: z.number(),
      },
      async ({ tag }) => {
        ran.push(tag);
        await sleep(20);
        return 1;
      },
    );
    const wf = workflow({ name: "stopping" }, () => {
      const bad = fail({});
      record({ tag: "independent" }); // already running when fail fails: it finishes, nothing is left running
      record({ tag: "downstream", after: bad });
      return record.map({ tag: ["a", "b", "c"] });
    });
    const error = (await runWorkflow(wf, {}, { concurrency: 3 }).catch(
      (e: unknown) => e,
    )) as TaskFailedError;
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toBe("task fail (n0) failed: nope");
    // fail, independent and map element a hold the three slots; b and c are queued, then refused.
    expect(ran.sort()).toEqual(["a", "independent"]);
    await sleep(40);
    expect(ran.sort()).toEqual(["a", "independent"]);
  });

  it("reports a map element's failure with its element node id", async () => {
    const picky = task(
      { name: "picky", inputs: { x: z.number() }, output: z.number() },
      ({ x }) => {
        if (x === 2) throw new Error("two is not allowed");
        return x;
      },
    );
    const wf = workflow({ name: "picky_map", inputs: { xs: z.array(z.number()) } }, ({ xs }) =>
      picky.map({ x: xs }),
    );
    await expect(runWorkflow(wf, { xs: [1, 2, 3] })).rejects.toThrow(
      "task picky (n0[1]) failed: two is not allowed",
    );
  });

  it("fails the node when the values reaching a task do not fit its inputs, without retrying", async () => {
    let runs = 0;
    const wantsString = task(
      { name: "wants_string", inputs: { s: z.string() }, output: z.string(), retries: 3 },
      ({ s }) => {
        runs++;
        return s;
      },
    );
    const wf = workflow({ name: "mismatch", inputs: { n: z.number() } }, ({ n }) =>
      wantsString({ s: n as never }),
    );
    const error = (await runWorkflow(wf, { n: 1 }).catch((e: unknown) => e)) as TaskFailedError;
    expect(error.message).toBe(
      'task wants_string (n0) failed: invalid inputs for task "wants_string": input "s": expected string, received number',
    );
    expect(error.cause).toBeInstanceOf(InvalidInputsError);
    expect(runs).toBe(0);
  });

  it("leaves an optional task input unset when the optional workflow input bound to it is absent", async () => {
    const wf = workflow(
      { name: "optional", inputs: { label: z.string().optional() } },
      ({ label }) => format({ sum: 1, count: 1, label }),
    );
    await expect(runWorkflow(wf, {})).resolves.toBe("sum of 1 is 1");
    await expect(runWorkflow(wf, { label: "total" })).resolves.toBe("total of 1 is 1");
  });

  it("accepts the workflow entity, as findEntities returns it", async () => {
    await expect(runWorkflow(pipeline[ENTITY], { count: 2 })).resolves.toMatchObject({
      text: "sum of 2 is 5",
    });
  });

  it("rejects a bad concurrency", async () => {
    await expect(runWorkflow(pipeline, {}, { concurrency: 0 })).rejects.toThrow(
      "concurrency must be a positive integer",
    );
  });
});

describe("validateWorkflowInputs", () => {
  const wf = workflow(
    { name: "wf", inputs: { name: z.string().default("world"), count: z.number() } },
    ({ count }) => range({ count }),
  );

  it("applies defaults", () => {
    expect(validateWorkflowInputs(wf, { count: 2 })).toEqual({ name: "world", count: 2 });
    expect(validateWorkflowInputs(wf[ENTITY], { count: 2, name: "Ada" })).toEqual({
      name: "Ada",
      count: 2,
    });
  });

  it("names unknown, missing and mistyped inputs", () => {
    expect(() => validateWorkflowInputs(wf, { nmae: "x", count: 1 })).toThrow(
      'unknown input "nmae" for workflow "wf" (it takes: name, count)',
    );
    expect(() => validateWorkflowInputs(wf, {})).toThrow(
      'missing required input "count" for workflow "wf"',
    );
    expect(() => validateWorkflowInputs(wf, { count: "3" })).toThrow(
      'invalid inputs for workflow "wf": input "count": expected number, received string',
    );
  });

  it("is what runWorkflow checks before anything runs", async () => {
    let runs = 0;
    const counted = task({ name: "counted", inputs: {}, output: z.number() }, () => ++runs);
    const guarded = workflow({ name: "guarded", inputs: { n: z.number() } }, () => counted({}));
    const error = await runWorkflow(guarded, { n: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputsError);
    expect((error as InvalidInputsError).issues).toEqual([
      { input: "n", message: 'input "n": expected number, received string' },
    ]);
    expect(runs).toBe(0);
  });
});
