/** `task(...)`: a typed unit of work that workflows call and the platform runs. */
import type { Binding, JsonValue, TaskCache, TaskSpec } from "@drydock/contracts";
import { EntityName, TaskSpecSchema } from "@drydock/contracts";
import type { z } from "zod";

import type { TaskCallSite, TaskEntity } from "./entity.js";
import { ENTITY } from "./entity.js";
import type { InputIssue } from "./errors.js";
import { InvalidInputsError } from "./errors.js";
import type { ImageSpec } from "./image.js";
import type { InputShape } from "./inputs.js";
import {
  describeIssue,
  describeOutputIssue,
  inputJsonSchemas,
  outputJsonSchema,
  parseInputs,
  requiredInputs,
  toJsonValue,
} from "./inputs.js";
import type { BuildContext, Bindable, Ref } from "./refs.js";
import { activeBuild, makeRef, toBinding } from "./refs.js";
import type { InteractiveDefinition } from "./vscode.js";
import { interactiveConfigOf, interactiveDefinitionOf } from "./vscode.js";

/** What `task(options, fn)` takes besides the function. */
export interface TaskOptions<I extends InputShape, O extends z.ZodType> {
  /** Unique name, as shown in the console and on the command line: `say_hello`. */
  name: string;
  description?: string;
  /** Input name → zod schema. */
  inputs: I;
  /** Schema of the value the function returns. */
  output: O;
  image?: ImageSpec;
  /** How many more times to run the task when it fails. Default 0. */
  retries?: number;
  timeoutSeconds?: number;
  resources?: { cpu?: number; memoryMiB?: number };
  /**
   * Run only on cluster nodes carrying these labels (Kubernetes' name for it): on a Docker Swarm cluster they
   * become placement constraints (`node.labels.gpu==true`). A server running tasks on one machine runs the task
   * there anyway.
   * @example task({ name: "train", nodeSelector: { gpu: "true" }, inputs, output }, fn)
   */
  nodeSelector?: Record<string, string>;
  /**
   * Reuse the outputs of an earlier successful run with the same inputs: `true` keys the cache on the task's
   * code, `{ version: "2" }` on that version (bump it to invalidate). Not for `vscode(...)` tasks.
   * @example task({ name: "featurize", cache: true, inputs, output }, fn)
   */
  cache?: boolean | { version: string };
}

/** The validated inputs a task function receives. */
export type TaskInputs<I extends InputShape> = z.output<z.ZodObject<I>>;
/** What a caller passes to a task: the schemas' input types (defaults make inputs optional). */
export type TaskRawInputs<I extends InputShape> = z.input<z.ZodObject<I>>;
/** What a workflow function passes to a task: values, Refs, or arrays/objects holding Refs. */
export type TaskCallInputs<I extends InputShape> = {
  [K in keyof TaskRawInputs<I>]: Bindable<TaskRawInputs<I>[K]>;
};
/** For `task.map`: lists (or Refs to lists) to fan out over, one element per run. */
export type TaskMapOver<I extends InputShape> = {
  [K in keyof TaskRawInputs<I>]?: Bindable<TaskRawInputs<I>[K][]>;
};

export type TaskFunction<I extends InputShape, O extends z.ZodType> = (
  inputs: TaskInputs<I>,
) => z.input<O> | Promise<z.input<O>>;

/** A task: call it inside a workflow function, `.map` it over lists, or `.run` it directly. */
export interface Task<I extends InputShape = InputShape, O extends z.ZodType = z.ZodType> {
  /** Inside a workflow function: records a call and returns a Ref to its output. */
  (inputs: TaskCallInputs<I>): Ref<z.output<O>>;
  /** Inside a workflow function: runs the task once per element of the `over` lists (zipped); a Ref to the list of outputs. */
  map(over: TaskMapOver<I>, fixed?: Partial<TaskCallInputs<I>>): Ref<z.output<O>[]>;
  /** Runs the task here and now: validates the inputs, calls the function, validates the output. */
  run(this: void, inputs: TaskRawInputs<I>): Promise<z.output<O>>;
  readonly name: string;
  readonly [ENTITY]: TaskEntity & { interactive?: InteractiveDefinition };
}

/** `say_hello` → `sayHello`, the name authors usually give the task's variable. */
function variableName(taskName: string): string {
  return taskName.replace(/[_.-]+([A-Za-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Where `task(...)` was called, from the stack (frames above `caller` dropped): the file's absolute path and
 * the 1-based line and column V8 gives the call (source-mapped under tsx).
 */
function callerSite(caller: (...args: never[]) => unknown): TaskCallSite | undefined {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, caller);
  for (const line of (holder.stack ?? "").split("\n").slice(1)) {
    const match = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    const location = match?.[1];
    if (!location) continue;
    // tsx imports a file more than once by adding a query (`?tsx-namespace=…`) to its URL.
    const file = location.startsWith("file://")
      ? decodeURIComponent(location.slice("file://".length).replace(/\?.*$/, ""))
      : location;
    return { file, line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}

/** `cache: true` → `{}`, `{ version }` as given; false or absent → not cached. Interactive tasks refuse it. */
function cacheSpec(
  name: string,
  cache: TaskOptions<InputShape, z.ZodType>["cache"],
  interactive: boolean,
): { cache?: TaskCache } {
  if (cache === undefined || cache === false) return {};
  if (interactive)
    throw new Error(
      `task "${name}": interactive tasks are never cached (each run opens an IDE on fresh inputs); remove the cache option or the vscode(...) wrapper`,
    );
  if (cache === true) return { cache: {} };
  if (typeof cache !== "object" || cache === null || typeof cache.version !== "string")
    throw new Error(
      `task "${name}": cache must be true, false or { version: "…" }, not ${JSON.stringify(cache)}`,
    );
  return { cache: { version: cache.version } };
}

/** `what` says whose name it is in the error: `task name`, `task "t" input name`. */
function checkName(what: string, name: unknown): string {
  const parsed = EntityName.safeParse(name);
  if (!parsed.success) {
    throw new Error(
      `${what} ${JSON.stringify(name)} is not valid: ${parsed.error.issues[0]?.message ?? "bad name"}`,
    );
  }
  return parsed.data;
}

/**
 * Defines a task from typed inputs, an output schema and a function (plain, or wrapped by `vscode(...)`).
 * @example const sayHello = task({ name: "say_hello", inputs: { name: z.string() }, output: z.string() }, async ({ name }) => `Hello, ${name}!`);
 */
export function task<I extends InputShape, O extends z.ZodType>(
  options: TaskOptions<I, O>,
  fn: TaskFunction<I, O>,
): Task<I, O> {
  const name = checkName("task name", options.name);
  if (typeof fn !== "function")
    throw new TypeError(`task "${name}" needs a function as its second argument`);
  const shape = options.inputs;
  for (const input of Object.keys(shape)) checkName(`task "${name}" input name`, input);

  const interactive = interactiveDefinitionOf(fn);
  const callSite = callerSite(task);
  const candidate = {
    name,
    ...(options.description === undefined ? {} : { description: options.description }),
    inputs: inputJsonSchemas(shape),
    required: requiredInputs(shape),
    output: outputJsonSchema(options.output),
    retries: options.retries ?? 0,
    ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
    ...(options.image === undefined ? {} : { image: options.image.toData() }),
    ...(options.resources === undefined ? {} : { resources: options.resources }),
    ...(options.nodeSelector === undefined ? {} : { nodeSelector: options.nodeSelector }),
    ...(interactive ? { interactive: interactiveConfigOf(interactive.options) } : {}),
    ...cacheSpec(name, options.cache, interactive !== undefined),
    ...(callSite ? { sourceFile: callSite.file } : {}),
  };
  const checked = TaskSpecSchema.safeParse(candidate);
  if (!checked.success) {
    const problems = checked.error.issues
      .map((i) => `${i.path.join(".")}: ${i.message}`)
      .join("; ");
    throw new Error(`task "${name}" is not valid: ${problems}`);
  }
  const spec: TaskSpec = checked.data;
  const target = `task "${name}"`;

  const entity: TaskEntity & { interactive?: InteractiveDefinition } = {
    kind: "task",
    spec,
    async execute(rawInputs: Record<string, unknown>): Promise<JsonValue> {
      const inputs = parseInputs(target, shape, rawInputs) as TaskInputs<I>;
      // The function's own errors propagate untouched: message and stack are the author's.
      const returned: unknown = await fn(inputs);
      const output = await options.output.safeParseAsync(returned);
      if (!output.success) {
        const problems = output.error.issues.map(describeOutputIssue).join("; ");
        throw new Error(
          `${name} returned a value that does not match its output schema: ${problems}`,
        );
      }
      return toJsonValue(output.data);
    },
    ...(interactive ? { interactive } : {}),
    ...(callSite ? { callSite } : {}),
  };

  // Not enumerable: entities compare and print as before.
  Object.defineProperty(entity, "fn", { value: interactive?.fn ?? fn, enumerable: false });

  const recordingContext = (): BuildContext => {
    const context = activeBuild();
    if (!context) {
      throw new Error(
        `${name} can only be called inside a workflow function; use ${variableName(name)}.run(inputs) to run it directly`,
      );
    }
    context.useTask(entity);
    return context;
  };

  const call = (inputs: TaskCallInputs<I>): Ref<z.output<O>> => {
    const context = recordingContext();
    const id = context.nextNodeId();
    const where = `${target} in workflow "${context.workflowName}"`;
    const bindings = bindInputs(context, inputs, where);
    checkCallInputs(where, shape, bindings, {});
    context.nodes.push({ kind: "task", id, task: name, inputs: bindings });
    return makeRef(context, { kind: "node", node: id }) as Ref<z.output<O>>;
  };

  const map = (over: TaskMapOver<I>, fixed?: Partial<TaskCallInputs<I>>): Ref<z.output<O>[]> => {
    const context = recordingContext();
    const id = context.nextNodeId();
    const where = `${target} in workflow "${context.workflowName}"`;
    const overBindings = bindInputs(context, over, where);
    const fixedBindings = bindInputs(context, fixed ?? {}, where);
    checkCallInputs(where, shape, fixedBindings, overBindings);
    context.nodes.push({ kind: "map", id, task: name, over: overBindings, inputs: fixedBindings });
    return makeRef(context, { kind: "node", node: id }) as Ref<z.output<O>[]>;
  };

  const run = (inputs: TaskRawInputs<I>): Promise<z.output<O>> => {
    const building = activeBuild();
    if (building) {
      throw new Error(
        `${name}.run cannot be used while building workflow "${building.workflowName}": inside a workflow function, ` +
          `call the task (${variableName(name)}(inputs)) so it becomes a step of the workflow`,
      );
    }
    return entity.execute(inputs) as Promise<z.output<O>>;
  };

  Object.defineProperties(call, {
    name: { value: name },
    map: { value: map },
    run: { value: run },
    [ENTITY]: { value: entity },
  });
  return call as unknown as Task<I, O>;
}

function bindInputs(
  context: BuildContext,
  inputs: unknown,
  where: string,
): Record<string, Binding> {
  if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) {
    throw new InvalidInputsError(where, [
      { input: "", message: `${where} takes its inputs as an object: { name: value }` },
    ]);
  }
  const bindings: Record<string, Binding> = {};
  for (const [input, value] of Object.entries(inputs)) {
    const binding = toBinding(context, value, `input "${input}" of ${where}`);
    if (binding) bindings[input] = binding;
  }
  return bindings;
}

/**
 * Checks a call as far as it can be checked while building: names are known, required inputs are given,
 * and literal values match their schemas (Refs are checked when the task runs).
 */
function checkCallInputs(
  where: string,
  shape: InputShape,
  fixed: Record<string, Binding>,
  over: Record<string, Binding>,
): void {
  const issues: InputIssue[] = [];
  const names = Object.keys(shape);
  const takes = names.length ? `it takes: ${names.join(", ")}` : "it takes no inputs";
  const given = [...Object.keys(over), ...Object.keys(fixed)];
  for (const input of given) {
    if (!Object.hasOwn(shape, input))
      issues.push({ input, message: `unknown input "${input}" for ${where} (${takes})` });
  }
  for (const input of Object.keys(over)) {
    if (Object.hasOwn(fixed, input))
      issues.push({ input, message: `input "${input}" of ${where} is both mapped over and fixed` });
  }
  for (const input of requiredInputs(shape)) {
    if (!given.includes(input))
      issues.push({ input, message: `missing required input "${input}" for ${where}` });
  }
  const checkLiteral = (input: string, value: JsonValue, path: (string | number)[]) => {
    const schema = shape[input];
    const result = schema?.safeParse(value);
    if (result && !result.success) {
      for (const issue of result.error.issues) {
        issues.push(describeIssue({ ...issue, path: [input, ...path, ...issue.path] }));
      }
    }
  };
  for (const [input, binding] of Object.entries(fixed)) {
    if (binding.kind === "literal") checkLiteral(input, binding.value, []);
  }
  for (const [input, binding] of Object.entries(over)) {
    if (binding.kind !== "literal") continue;
    if (!Array.isArray(binding.value)) {
      issues.push({
        input,
        message: `input "${input}" of ${where} is mapped over, so it must be a list`,
      });
      continue;
    }
    binding.value.forEach((element, i) => checkLiteral(input, element, [i]));
  }
  if (issues.length > 0) throw new InvalidInputsError(where, issues);
}
