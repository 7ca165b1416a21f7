import type { JsonSchema, JsonValue } from "@drydock/contracts";

import { CliError } from "./errors.js";

function acceptsString(schema: JsonSchema | undefined): boolean {
  if (!schema) return true;
  const type = schema.type;
  if (type === "string" || (Array.isArray(type) && type.includes("string"))) return true;
  if (Array.isArray(schema.enum)) return schema.enum.every((v) => typeof v === "string");
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.some((o) => acceptsString(o as JsonSchema))) return true;
  }
  return type === undefined && !("properties" in schema) && !("items" in schema);
}

/**
 * Turns `--name value` pairs into workflow inputs, reading each value as its input's JSON Schema wants:
 * as text for strings, as JSON otherwise (`--count 3`, `--names '["a","b"]'`, `--flag` for true).
 * Unknown names are left for validation, which names them.
 */
export function parseInputFlags(
  flags: [string, string | true][],
  schemas: Record<string, JsonSchema>,
): Record<string, JsonValue> {
  const inputs: Record<string, JsonValue> = {};
  for (const [name, raw] of flags) {
    if (name in inputs) throw new CliError(`input "${name}" is given twice`);
    if (raw === true) {
      inputs[name] = true;
      continue;
    }
    if (acceptsString(schemas[name])) {
      inputs[name] = raw;
      continue;
    }
    try {
      inputs[name] = JSON.parse(raw) as JsonValue;
    } catch {
      inputs[name] = raw;
    }
  }
  return inputs;
}

export interface RunArguments {
  positionals: string[];
  options: Record<string, string | true>;
  /** Every value of the options that may be given more than once, in order. */
  lists: Record<string, string[]>;
  inputs: [string, string | true][];
}

/**
 * Splits `drydock run` arguments into its own options (declared in `known`: whether each takes a value,
 * `"repeatable"` for one that takes a value and may be given again) and the workflow's `--<input> <value>`
 * flags.
 */
export function splitRunArguments(
  argv: string[],
  known: Record<string, boolean | "repeatable">,
): RunArguments {
  const result: RunArguments = { positionals: [], options: {}, lists: {}, inputs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--") || arg === "--") {
      if (arg !== "--") result.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq > 0 ? eq : undefined);
    if (name.length === 0) throw new CliError(`malformed option "${arg}"`);
    let value: string | true;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (name in known && !known[name]) value = true;
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) value = true;
      else {
        value = next;
        i++;
      }
    }
    if (name in known) {
      if (known[name] && value === true) throw new CliError(`option --${name} needs a value`);
      if (known[name] === "repeatable" && value !== true) (result.lists[name] ??= []).push(value);
      else result.options[name] = value;
    } else result.inputs.push([name, value]);
  }
  return result;
}
