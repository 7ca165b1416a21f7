import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";
import { z } from "zod";

import { ENTITY } from "./entity.js";
import { InvalidInputsError } from "./errors.js";
import { ImageSpec } from "./image.js";
import { task } from "./task.js";
import { vscode } from "./vscode.js";

const greet = task(
  {
    name: "greet",
    description: "Greets someone",
    inputs: { name: z.string(), times: z.number().int().default(1), suffix: z.string().optional() },
    output: z.string(),
  },
  ({ name, times, suffix }) => `${"Hello ".repeat(times)}${name}${suffix ?? ""}`,
);

describe("task spec", () => {
  const spec = greet[ENTITY].spec;

  it("describes each input as JSON Schema and lists the required ones", () => {
    expect(spec.name).toBe("greet");
    expect(spec.description).toBe("Greets someone");
    expect(spec.inputs.name).toMatchObject({ type: "string" });
    expect(spec.inputs.times).toMatchObject({ type: "integer", default: 1 });
    expect(spec.inputs.suffix).toMatchObject({ type: "string" });
    expect(spec.required).toEqual(["name"]);
    expect(spec.output).toMatchObject({ type: "string" });
  });

  it("defaults retries to 0 and leaves optional settings out", () => {
    expect(spec.retries).toBe(0);
    expect(spec).not.toHaveProperty("timeoutSeconds");
    expect(spec).not.toHaveProperty("image");
    expect(spec).not.toHaveProperty("interactive");
    expect(spec).not.toHaveProperty("nodeSelector");
  });

  it("records the absolute path of the file that defined the task", () => {
    expect(spec.sourceFile).toBe(fileURLToPath(import.meta.url));
  });

  it("records the call site on the entity, not in the spec", () => {
    // `const greet = task(` is line 12; V8 puts the call at `task`.
    expect(greet[ENTITY].callSite).toEqual({
      file: fileURLToPath(import.meta.url),
      line: 12,
      column: 15,
    });
    expect(spec).not.toHaveProperty("callSite");
    expect(spec).not.toHaveProperty("cache");
  });

  it("carries image, resources, retries and timeout", () => {
    const t = task(
      {
        name: "heavy",
        inputs: {},
        output: z.null(),
        retries: 3,
        timeoutSeconds: 60,
        resources: { cpu: 2, memoryMiB: 512 },
        image: new ImageSpec({
          name: "img",
          baseImage: "node:20",
          packages: ["lodash"],
          env: { A: "1" },
        }),
      },
      () => null,
    );
    expect(t[ENTITY].spec).toMatchObject({
      retries: 3,
      timeoutSeconds: 60,
      resources: { cpu: 2, memoryMiB: 512 },
      image: { name: "img", baseImage: "node:20", packages: ["lodash"], env: { A: "1" } },
    });
  });

  it("carries the node labels its attempts must run on, and names a label that is not label syntax", () => {
    const t = task(
      {
        name: "train",
        inputs: {},
        output: z.null(),
        nodeSelector: { gpu: "true", "example.com/zone": "eu-1" },
      },
      () => null,
    );
    expect(t[ENTITY].spec.nodeSelector).toEqual({ gpu: "true", "example.com/zone": "eu-1" });
    const define = (nodeSelector: Record<string, string>) => () =>
      task({ name: "t", inputs: {}, output: z.null(), nodeSelector }, () => null);
    expect(define({ "gpu model": "a100" })).toThrow(
      `task "t" is not valid: nodeSelector.gpu model: a node label key is 1 to 63 letters, digits, '.', '_', '-' or '/', starting with a letter or digit`,
    );
    expect(define({ gpu: "yes please" })).toThrow(
      `task "t" is not valid: nodeSelector.gpu: a node label value is at most 63 letters, digits, '.', '_' or '-'`,
    );
  });

  it("rejects bad names and settings when the task is defined", () => {
    expect(() => task({ name: "say hello", inputs: {}, output: z.null() }, () => null)).toThrow(
      /task name "say hello" is not valid/,
    );
    expect(() =>
      task({ name: "t", inputs: {}, output: z.null(), retries: -1 }, () => null),
    ).toThrow(/task "t" is not valid: retries/);
    expect(() =>
      task({ name: "t", inputs: { "a b": z.string() }, output: z.null() }, () => null),
    ).toThrow('task "t" input name "a b" is not valid');
  });

  it("exposes its name", () => {
    expect(greet.name).toBe("greet");
  });
});

describe("task.run and execute", () => {
  it("validates inputs, applies defaults and calls the function", async () => {
    await expect(greet.run({ name: "Ada" })).resolves.toBe("Hello Ada");
    await expect(greet.run({ name: "Ada", times: 2, suffix: "!" })).resolves.toBe(
      "Hello Hello Ada!",
    );
    await expect(greet[ENTITY].execute({ name: "Bo" })).resolves.toBe("Hello Bo");
  });

  it("names an unknown input and what the task takes", async () => {
    const error = await greet[ENTITY].execute({ nmae: "Ada", name: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputsError);
    expect((error as InvalidInputsError).message).toBe(
      'unknown input "nmae" for task "greet" (it takes: name, times, suffix)',
    );
    expect((error as InvalidInputsError).issues).toEqual([
      { input: "nmae", message: expect.stringContaining("nmae") as string },
    ]);
  });

  it("names a missing required input", async () => {
    await expect(greet[ENTITY].execute({})).rejects.toThrow(
      'missing required input "name" for task "greet"',
    );
  });

  it("names a mistyped input and says what was expected", async () => {
    const error = (await greet[ENTITY].execute({ name: "Ada", times: "2" }).catch(
      (e: unknown) => e,
    )) as InvalidInputsError;
    expect(error.message).toBe(
      'invalid inputs for task "greet": input "times": expected number, received string',
    );
    expect(error.issues.map((i) => i.input)).toEqual(["times"]);
  });

  it("reports every bad input at once", async () => {
    const error = (await greet[ENTITY].execute({ extra: 1, times: "x" }).catch(
      (e: unknown) => e,
    )) as InvalidInputsError;
    expect(error.issues.map((i) => i.input).sort()).toEqual(["extra", "name", "times"]);
    expect(error.message).toContain('unknown input "extra"');
    expect(error.message).toContain('missing required input "name"');
    expect(error.message).toContain('input "times": expected number');
  });

  it("names nested fields of a mistyped input", async () => {
    const t = task(
      {
        name: "points",
        inputs: { points: z.array(z.object({ x: z.number() })) },
        output: z.number(),
      },
      ({ points }) => points.length,
    );
    await expect(t[ENTITY].execute({ points: [{ x: 1 }, { x: "2" }] })).rejects.toThrow(
      'input "points[1].x": expected number, received string',
    );
  });

  it("rejects an output that does not match the output schema, naming the task", async () => {
    const t = task(
      { name: "liar", inputs: {}, output: z.number() },
      () => "not a number" as unknown as number,
    );
    await expect(t.run({})).rejects.toThrow(
      "liar returned a value that does not match its output schema: expected number, received string",
    );
  });

  it("returns a JSON-safe copy of the output", async () => {
    const t = task(
      { name: "dated", inputs: {}, output: z.object({ at: z.date(), n: z.number() }) },
      () => ({ at: new Date(0), n: 1 }),
    );
    await expect(t[ENTITY].execute({})).resolves.toEqual({ at: "1970-01-01T00:00:00.000Z", n: 1 });
  });

  it("lets errors thrown by the function through unchanged", async () => {
    const original = new Error("boom");
    const t = task({ name: "thrower", inputs: {}, output: z.null() }, async () => {
      throw original;
    });
    const error = await t.run({}).catch((e: unknown) => e);
    expect(error).toBe(original);
    expect((error as Error).stack).toBe(original.stack);
  });
});

describe("calling a task outside a workflow", () => {
  it("throws and points at .run", () => {
    const sayHello = task(
      { name: "say_hello", inputs: { name: z.string() }, output: z.string() },
      ({ name }) => name,
    );
    expect(() => sayHello({ name: "x" })).toThrow(
      "say_hello can only be called inside a workflow function; use sayHello.run(inputs) to run it directly",
    );
    expect(() => sayHello.map({ name: ["x"] })).toThrow(
      "say_hello can only be called inside a workflow function",
    );
  });
});

describe("task cache option", () => {
  const define = (cache: unknown, wrap: (fn: () => number) => () => number = (fn) => fn) =>
    task(
      { name: "cached", inputs: {}, output: z.number(), cache } as Parameters<typeof task>[0],
      wrap(() => 1),
    )[ENTITY].spec;

  it("puts cache: true in the spec as {} and a version as given", () => {
    expect(define(true).cache).toEqual({});
    expect(define({ version: "2" }).cache).toEqual({ version: "2" });
  });

  it("leaves cache: false out of the spec", () => {
    expect(define(false)).not.toHaveProperty("cache");
  });

  it("refuses to cache an interactive task", () => {
    expect(() => define(true, (fn) => vscode(fn))).toThrow(
      'task "cached": interactive tasks are never cached',
    );
    expect(() => define({ version: "1" }, (fn) => vscode({ runTaskFirst: true }, fn))).toThrow(
      /interactive tasks are never cached/,
    );
    expect(define(false, (fn) => vscode(fn)).interactive).toBeDefined();
  });

  it("refuses a cache option that is not true, false or { version }", () => {
    expect(() => define("yes")).toThrow(
      'task "cached": cache must be true, false or { version: "…" }',
    );
    expect(() => define({ version: "" })).toThrow(/task "cached" is not valid: cache.version/);
  });
});
