import type { JsonValue, WorkflowSpec } from "@drydock/contracts";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { Ajv2020 } from "ajv/dist/2020.js";

function describe(error: ErrorObject): string {
  const field = error.instancePath.split("/").filter(Boolean).join(".");
  if (error.keyword === "additionalProperties" && error.instancePath === "") {
    return `unknown input "${String(error.params.additionalProperty)}"`;
  }
  if (error.keyword === "required" && error.instancePath === "")
    return `missing required input "${String(error.params.missingProperty)}"`;
  return `input "${field}": ${error.message ?? "is invalid"}`;
}

/**
 * Validates launch inputs against a workflow's JSON Schemas (the SDK's zod schemas, exported), applying
 * declared defaults. Compiled validators are kept per workflow version.
 */
export class InputValidator {
  private readonly ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  validate(
    key: string,
    spec: WorkflowSpec,
    inputs: Record<string, JsonValue>,
  ): { ok: true; value: Record<string, JsonValue> } | { ok: false; problems: string[] } {
    let validate = this.compiled.get(key);
    if (!validate) {
      const properties = Object.fromEntries(
        Object.entries(spec.inputs).map(([name, schema]) => {
          const { $schema: _ignored, ...rest } = schema;
          return [name, rest];
        }),
      );
      validate = this.ajv.compile({
        type: "object",
        properties,
        required: spec.required,
        additionalProperties: false,
      });
      this.compiled.set(key, validate);
    }
    const value = structuredClone(inputs);
    if (validate(value)) return { ok: true, value };
    const expected = Object.keys(spec.inputs).join(", ") || "none";
    const problems = (validate.errors ?? []).map(describe);
    return { ok: false, problems: [...problems, `(workflow "${spec.name}" takes: ${expected})`] };
  }
}
