/**
 * The launch form's model, free of React and the DOM: a workflow's input JSON Schemas (its authors' zod
 * schemas, exported by the SDK) become field descriptors; what a person typed becomes typed JSON values,
 * checked with ajv as the server checks them; ajv's and the server's complaints become one sentence per field.
 */
import type { JsonSchema, JsonValue } from "@drydock/contracts";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { Ajv2020 } from "ajv/dist/2020.js";

/** Which control edits a field: everything that is not a plain scalar or a choice is typed as JSON. */
export type FieldControl = "text" | "select" | "number" | "checkbox" | "json";

/** What a control holds: the text typed or chosen, or a checkbox's state. */
export type RawValue = string | boolean;
export type RawValues = Record<string, RawValue>;

/** A choice of a select: `value` is the JSON text of the allowed value, so 1 and "1" stay apart. */
export interface FieldOption {
  value: string;
  label: string;
}

export interface FieldDescriptor {
  name: string;
  control: FieldControl;
  /** Number controls only: whole numbers expected. */
  integer: boolean;
  /** The workflow cannot run without it (no default, not optional). */
  required: boolean;
  description?: string;
  /** The schema's constraints in words, e.g. "integer, at least 0" or "JSON: array of number". */
  hint?: string;
  options: FieldOption[];
  min?: number;
  max?: number;
  /** The control's value when the form opens: the schema's default, or empty. */
  initial: RawValue;
  schema: JsonSchema;
}

type SchemaType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "null";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The schema's one type, when it names exactly one (`["string", "null"]` is not one). */
function singleType(schema: JsonSchema): SchemaType | undefined {
  const type = schema.type;
  if (typeof type === "string") return type as SchemaType;
  if (Array.isArray(type) && type.length === 1 && typeof type[0] === "string")
    return type[0] as SchemaType;
  return undefined;
}

/** The values a schema allows when it lists them: `enum`, `const`, or an `anyOf` of those (zod's union of literals). */
function choicesOf(schema: JsonSchema): JsonValue[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum as JsonValue[];
  if ("const" in schema) return [schema.const as JsonValue];
  if (Array.isArray(schema.anyOf) && schema.anyOf.length > 0) {
    const all: JsonValue[] = [];
    for (const branch of schema.anyOf) {
      const choices = isRecord(branch) ? choicesOf(branch) : undefined;
      if (!choices) return undefined;
      all.push(...choices);
    }
    return all;
  }
  return undefined;
}

/** zod writes ±Number.MAX_SAFE_INTEGER as the bounds of every int(); they are no limit a person needs to see. */
function meaningfulBound(value: unknown): number | undefined {
  return typeof value === "number" && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined;
}

function describeType(schema: JsonSchema): string {
  const choices = choicesOf(schema);
  if (choices) return `one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`;
  const type = schema.type;
  if (Array.isArray(type)) return type.join(" or ");
  if (type === "array") {
    const items = isRecord(schema.items) ? describeType(schema.items) : "";
    return items ? `array of ${items}` : "array";
  }
  if (typeof type === "string") return type;
  if (Array.isArray(schema.anyOf)) {
    return schema.anyOf
      .map((branch) => (isRecord(branch) ? describeType(branch) : "value"))
      .join(" or ");
  }
  return "any value";
}

function numberHint(schema: JsonSchema, integer: boolean): string {
  const parts = [integer ? "integer" : "number"];
  const min = meaningfulBound(schema.minimum);
  const max = meaningfulBound(schema.maximum);
  const exMin = meaningfulBound(schema.exclusiveMinimum);
  const exMax = meaningfulBound(schema.exclusiveMaximum);
  if (min !== undefined) parts.push(`at least ${min}`);
  if (exMin !== undefined) parts.push(`greater than ${exMin}`);
  if (max !== undefined) parts.push(`at most ${max}`);
  if (exMax !== undefined) parts.push(`less than ${exMax}`);
  return parts.join(", ");
}

function stringHint(schema: JsonSchema): string | undefined {
  const parts: string[] = [];
  if (typeof schema.minLength === "number" && schema.minLength > 0)
    parts.push(`at least ${schema.minLength} characters`);
  if (typeof schema.maxLength === "number") parts.push(`at most ${schema.maxLength} characters`);
  if (typeof schema.format === "string") parts.push(schema.format);
  else if (typeof schema.pattern === "string") parts.push(`matches ${schema.pattern}`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

function initialValue(control: FieldControl, schema: JsonSchema, options: FieldOption[]): RawValue {
  const hasDefault = "default" in schema;
  const value = schema.default as JsonValue | undefined;
  switch (control) {
    case "checkbox":
      return hasDefault && value === true;
    case "select": {
      if (!hasDefault) return "";
      const text = JSON.stringify(value);
      return options.some((o) => o.value === text) ? text : "";
    }
    case "text":
      return hasDefault && typeof value === "string" ? value : "";
    case "number":
      return hasDefault && typeof value === "number" ? String(value) : "";
    case "json":
      return hasDefault && value !== undefined ? JSON.stringify(value, null, 2) : "";
  }
}

/**
 * The order fields are shown in: required inputs first, in the order `required` lists them (the author's), then
 * the optional ones by name. The inputs' own key order is no guide: the server's store (jsonb) reorders keys.
 */
function fieldOrder(names: readonly string[], required: readonly string[]): string[] {
  const needed = required.filter((n) => names.includes(n));
  const optional = names.filter((n) => !needed.includes(n)).sort((a, b) => a.localeCompare(b));
  return [...needed, ...optional];
}

/** One field per workflow input: required ones first, as the author declared them, then optional ones by name. */
export function describeFields(
  inputs: Record<string, JsonSchema>,
  required: readonly string[],
): FieldDescriptor[] {
  return fieldOrder(Object.keys(inputs), required).map((name) => {
    const schema = inputs[name] as JsonSchema;
    const type = singleType(schema);
    const choices = choicesOf(schema);
    const options = (choices ?? []).map((c) => ({
      value: JSON.stringify(c),
      label: typeof c === "string" ? c : JSON.stringify(c),
    }));
    const control: FieldControl = choices
      ? "select"
      : type === "string"
        ? "text"
        : type === "number" || type === "integer"
          ? "number"
          : type === "boolean"
            ? "checkbox"
            : "json";
    const integer = control === "number" && type === "integer";
    const hint =
      control === "number"
        ? numberHint(schema, integer)
        : control === "text"
          ? stringHint(schema)
          : control === "json"
            ? `JSON: ${describeType(schema)}`
            : undefined;
    const field: FieldDescriptor = {
      name,
      control,
      integer,
      required: required.includes(name),
      options,
      initial: initialValue(control, schema, options),
      schema,
    };
    if (typeof schema.description === "string" && schema.description !== "")
      field.description = schema.description;
    if (hint) field.hint = hint;
    if (control === "number") {
      const min = meaningfulBound(schema.minimum);
      const max = meaningfulBound(schema.maximum);
      if (min !== undefined) field.min = min;
      if (max !== undefined) field.max = max;
    }
    return field;
  });
}

/** The controls' values when the form opens. */
export function initialValues(fields: readonly FieldDescriptor[]): RawValues {
  return Object.fromEntries(fields.map((f) => [f.name, f.initial]));
}

export type ParsedField =
  { ok: true; value: JsonValue | undefined } | { ok: false; message: string };

/** What a control holds as a JSON value; `undefined` when it was left empty (the input is then not sent). */
export function parseField(field: FieldDescriptor, raw: RawValue | undefined): ParsedField {
  if (field.control === "checkbox") return { ok: true, value: raw === true };
  const text = typeof raw === "string" ? raw : "";
  switch (field.control) {
    case "text":
      return { ok: true, value: text === "" ? undefined : text };
    case "select":
      return { ok: true, value: text === "" ? undefined : (JSON.parse(text) as JsonValue) };
    case "number": {
      const trimmed = text.trim();
      if (trimmed === "") return { ok: true, value: undefined };
      const value = Number(trimmed);
      return Number.isFinite(value)
        ? { ok: true, value }
        : { ok: false, message: `${field.name} must be a number` };
    }
    case "json": {
      const trimmed = text.trim();
      if (trimmed === "") return { ok: true, value: undefined };
      try {
        return { ok: true, value: JSON.parse(trimmed) as JsonValue };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return { ok: false, message: `${field.name} is not valid JSON: ${reason}` };
      }
    }
  }
}

/** `count` for the value itself, `config.retries` or `items[2]` inside it. */
function subjectOf(name: string, instancePath: string): string {
  const steps = instancePath.split("/").slice(1);
  return steps.reduce((subject, step) => {
    const key = step.replace(/~1/g, "/").replace(/~0/g, "~");
    return /^\d+$/.test(key) ? `${subject}[${key}]` : `${subject}.${key}`;
  }, name);
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  boolean: "true or false",
  object: "an object",
  array: "a list",
  null: "null",
};

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(",");
  return types.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(" or ");
}

/** One of ajv's errors about input `name` as a sentence: `count must be at least 0`. */
export function describeSchemaError(name: string, error: ErrorObject): string {
  const subject = subjectOf(name, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "type":
      return `${subject} must be ${typeWords(params.type)}`;
    case "minimum":
      return `${subject} must be at least ${String(params.limit)}`;
    case "maximum":
      return `${subject} must be at most ${String(params.limit)}`;
    case "exclusiveMinimum":
      return `${subject} must be greater than ${String(params.limit)}`;
    case "exclusiveMaximum":
      return `${subject} must be less than ${String(params.limit)}`;
    case "multipleOf":
      return `${subject} must be a multiple of ${String(params.multipleOf)}`;
    case "minLength":
      return `${subject} must be at least ${String(params.limit)} characters long`;
    case "maxLength":
      return `${subject} must be at most ${String(params.limit)} characters long`;
    case "pattern":
      return `${subject} must match the pattern ${String(params.pattern)}`;
    case "enum":
      return `${subject} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "const":
      return `${subject} must be ${JSON.stringify(params.allowedValue)}`;
    case "required":
      return `${subject} is missing "${String(params.missingProperty)}"`;
    case "additionalProperties":
      return `${subject} has an unknown property "${String(params.additionalProperty)}"`;
    case "minItems":
      return `${subject} must have at least ${String(params.limit)} items`;
    case "maxItems":
      return `${subject} must have at most ${String(params.limit)} items`;
    case "anyOf":
    case "oneOf":
      return `${subject} must match one of the allowed forms (${describeType(error.parentSchema ?? {})})`;
    default:
      return `${subject} ${error.message ?? "is invalid"}`;
  }
}

/**
 * The sentence to show for a field's ajv errors: the first of them, preferring an error about the value's
 * shape as a whole over the per-branch noise an `anyOf` produces.
 */
export function firstSchemaError(name: string, errors: readonly ErrorObject[]): string | undefined {
  const outside = errors.filter((e) => !/\/(anyOf|oneOf)\/\d+\//.test(e.schemaPath));
  const error = outside[0] ?? errors[0];
  return error ? describeSchemaError(name, error) : undefined;
}

/** Checks one value against its input's schema. */
export type FieldCheck = (value: JsonValue) => readonly ErrorObject[];

/**
 * Compiles each input's schema with ajv's JSON Schema 2020-12 dialect (the one zod writes and the server
 * checks with). A schema ajv cannot compile gets no browser check; the server still checks it.
 */
export function compileChecks(fields: readonly FieldDescriptor[]): Record<string, FieldCheck> {
  // Formats go unchecked, as on the server; addUsedSchema: false lets two inputs share an `$id`.
  const ajv = new Ajv2020({
    allErrors: true,
    strict: false,
    validateFormats: false,
    addUsedSchema: false,
    logger: false,
  });
  const checks: Record<string, FieldCheck> = {};
  for (const field of fields) {
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(field.schema);
    } catch {
      continue;
    }
    checks[field.name] = (value) => (validate(value) ? [] : (validate.errors ?? []));
  }
  return checks;
}

export type FormCheck =
  { ok: true; inputs: Record<string, JsonValue> } | { ok: false; errors: Record<string, string> };

/** Turns the controls' values into the workflow's inputs, or says what is wrong with each field. */
export function checkForm(
  fields: readonly FieldDescriptor[],
  raw: RawValues,
  checks: Record<string, FieldCheck>,
): FormCheck {
  const inputs: Record<string, JsonValue> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const parsed = parseField(field, raw[field.name]);
    if (!parsed.ok) {
      errors[field.name] = parsed.message;
      continue;
    }
    if (parsed.value === undefined) {
      if (field.required) errors[field.name] = `${field.name} is required`;
      continue;
    }
    const problem = firstSchemaError(field.name, checks[field.name]?.(parsed.value) ?? []);
    if (problem) errors[field.name] = problem;
    else inputs[field.name] = parsed.value;
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, inputs };
}

/** The input a server-side path such as `config.retries` or `items[0]` belongs to, if it is one of `names`. */
function inputOfPath(path: string, names: readonly string[]): string | undefined {
  if (names.includes(path)) return path;
  return names
    .filter((n) => path.startsWith(`${n}.`) || path.startsWith(`${n}[`))
    .sort((a, b) => b.length - a.length)[0];
}

export interface ServerInputProblems {
  /** Problems the server named an input for, by input. */
  fields: Record<string, string>;
  /** What is left for the form as a whole, if anything. */
  form?: string;
}

/**
 * Splits the server's refusal of the inputs (`invalid inputs for workflow "wf": input "name": must be string;
 * missing required input "count"; (workflow "wf" takes: name, count)`) into per-field messages and the rest.
 */
export function serverInputProblems(
  message: string,
  names: readonly string[],
): ServerInputProblems {
  const head = /^invalid (inputs|request)[^:]*:\s*/i.exec(message);
  const body = head ? message.slice(head[0].length) : message;
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  let takes: string | undefined;
  for (const part of body
    .split(/;\s+/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const quoted = /^input "([^"]+)":\s*(.*)$/.exec(part);
    const missing = /^missing required input "([^"]+)"/.exec(part);
    const bare = /^(?:inputs\.)?([A-Za-z_][\w.[\]-]*):\s*(.*)$/.exec(part);
    if (/^\(.*takes:.*\)$/.test(part)) {
      takes = part;
    } else if (missing?.[1] && names.includes(missing[1])) {
      fields[missing[1]] ??= `${missing[1]} is required`;
    } else if (quoted?.[1] && inputOfPath(quoted[1], names)) {
      fields[inputOfPath(quoted[1], names) as string] ??= `${quoted[1]} ${quoted[2] ?? ""}`.trim();
    } else if (bare?.[1] && inputOfPath(bare[1], names)) {
      fields[inputOfPath(bare[1], names) as string] ??= `${bare[1]} ${bare[2] ?? ""}`.trim();
    } else {
      rest.push(part);
    }
  }
  if (Object.keys(fields).length === 0) return { fields, form: message };
  if (rest.length === 0) return { fields };
  return {
    fields,
    form: `The server also refused: ${[...rest, ...(takes ? [takes] : [])].join("; ")}`,
  };
}
