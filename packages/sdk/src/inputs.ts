/** Typed inputs of tasks and workflows: their JSON Schemas, which are required, and validating raw values. */
import type { JsonSchema, JsonValue } from "@drydock/contracts";
import { z } from "zod";

import type { InputIssue } from "./errors.js";
import { InvalidInputsError } from "./errors.js";

/** Input name → zod schema, as an author writes `inputs: { name: z.string() }`. */
export type InputShape = Record<string, z.ZodType>;

/** The JSON Schema of what a caller may pass (defaults make a value optional). */
export function inputJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
}

/** The JSON Schema of what a task returns once its output schema has parsed it. */
export function outputJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "output", unrepresentable: "any" });
}

export function inputJsonSchemas(shape: InputShape): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(shape).map(([name, schema]) => [name, inputJsonSchema(schema)]),
  );
}

/** An input is required when its schema does not accept `undefined` (no default, not optional). */
export function isRequired(schema: z.ZodType): boolean {
  return !schema.safeParse(undefined).success;
}

export function requiredInputs(shape: InputShape): string[] {
  return Object.entries(shape)
    .filter(([, schema]) => isRequired(schema))
    .map(([name]) => name);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((step, i) =>
      typeof step === "number" ? `[${step}]` : i === 0 ? String(step) : `.${String(step)}`,
    )
    .join("");
}

function issueText(issue: z.core.$ZodIssue): string {
  return issue.message.replace(/^Invalid input: /, "");
}

/** A zod issue about inputs as `input "count": expected number, received string`. */
export function describeIssue(issue: z.core.$ZodIssue): InputIssue {
  const input = formatPath(issue.path);
  return { input, message: input ? `input "${input}": ${issueText(issue)}` : issueText(issue) };
}

/** A zod issue about a returned value as `total: expected number, received string`. */
export function describeOutputIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  return path ? `${path}: ${issueText(issue)}` : issueText(issue);
}

/**
 * The strict object schema of each input shape, made once: zod compiles an object schema's parser on its
 * first parse, so a schema made per call would be compiled again for every call (every fan-out element).
 */
const objectSchemas = new WeakMap<InputShape, z.ZodObject>();

function objectSchemaOf(shape: InputShape): z.ZodObject {
  let schema = objectSchemas.get(shape);
  if (!schema) {
    schema = z.object(shape).strict();
    objectSchemas.set(shape, schema);
  }
  return schema;
}

/**
 * Validates raw inputs against a shape, strictly: unknown names are rejected, defaults applied.
 * `target` names what the inputs are for in messages: `workflow "wf"`, `task "say_hello"`.
 */
export function parseInputs(
  target: string,
  shape: InputShape,
  raw: unknown,
): Record<string, unknown> {
  if (raw !== undefined && (raw === null || typeof raw !== "object" || Array.isArray(raw))) {
    throw new InvalidInputsError(target, [
      { input: "", message: `inputs for ${target} must be an object of named inputs` },
    ]);
  }
  const given = (raw ?? {}) as Record<string, unknown>;
  const names = Object.keys(shape);
  const issues: InputIssue[] = [];
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(shape, name)) {
      issues.push({
        input: name,
        message: `unknown input "${name}" for ${target} (${names.length ? `it takes: ${names.join(", ")}` : "it takes no inputs"})`,
      });
    }
  }
  const missing = new Set<string>();
  for (const [name, schema] of Object.entries(shape)) {
    if (given[name] === undefined && isRequired(schema)) {
      missing.add(name);
      issues.push({ input: name, message: `missing required input "${name}" for ${target}` });
    }
  }
  const result = objectSchemaOf(shape).safeParse(given);
  if (result.success && issues.length === 0) return result.data;
  for (const issue of result.error?.issues ?? []) {
    // Unknown and missing inputs were reported above in clearer words.
    if (issue.code === "unrecognized_keys") continue;
    const head = issue.path[0];
    if (issue.path.length === 1 && typeof head === "string" && missing.has(head)) continue;
    issues.push(describeIssue(issue));
  }
  throw new InvalidInputsError(target, issues);
}

/** A JSON-safe copy of a value (what flows between tasks); `undefined` becomes `null`. */
export function toJsonValue(value: unknown): JsonValue {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}
