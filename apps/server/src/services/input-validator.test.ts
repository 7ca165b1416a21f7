import type { WorkflowSpec } from "@drydock/contracts";
import { describe, expect, it } from "vitest";

import { InputValidator } from "./input-validator.js";

const spec: WorkflowSpec = {
  name: "wf",
  inputs: {
    name: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "string",
      default: "world",
    },
    count: { type: "integer" },
  },
  required: ["count"],
  nodes: [],
  output: { kind: "literal", value: null },
};

describe("InputValidator", () => {
  const validator = new InputValidator();

  it("applies defaults and accepts valid inputs", () => {
    expect(validator.validate("k", spec, { count: 2 })).toEqual({
      ok: true,
      value: { count: 2, name: "world" },
    });
  });

  it("names unknown, missing and mistyped inputs", () => {
    const result = validator.validate("k", spec, { nmae: "Ada", name: 3 });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toContain('unknown input "nmae"');
    expect(problems).toContain('missing required input "count"');
    expect(problems).toContain('input "name": must be string');
    expect(problems.at(-1)).toBe('(workflow "wf" takes: name, count)');
  });
});
