import { describe, expect, it } from "vitest";

import type { FieldDescriptor } from "./form.js";
import {
  checkForm,
  compileChecks,
  describeFields,
  initialValues,
  parseField,
  serverInputProblems,
} from "./form.js";

const DIALECT = "https://json-schema.org/draft/2020-12/schema";

// What z.toJSONSchema(…, { io: "input" }) writes for typical inputs, as the server hands them back.
const inputs = {
  count: { $schema: DIALECT, default: 4, type: "integer", minimum: 0, maximum: 9007199254740991 },
  name: { $schema: DIALECT, type: "string", minLength: 2, description: "Who to greet" },
  color: { $schema: DIALECT, type: "string", enum: ["red", "green"] },
  ratio: { $schema: DIALECT, type: "number", exclusiveMinimum: 0, maximum: 1 },
  verbose: { $schema: DIALECT, default: false, type: "boolean" },
  items: { $schema: DIALECT, type: "array", items: { type: "number" } },
  note: { $schema: DIALECT, type: "string" },
  level: {
    $schema: DIALECT,
    anyOf: [
      { type: "number", const: 1 },
      { type: "number", const: 2 },
    ],
  },
};
const required = ["name", "color", "items"];

function fields() {
  return describeFields(inputs, required);
}

function field(name: string): FieldDescriptor {
  const found = fields().find((f) => f.name === name);
  if (!found) throw new Error(`no field ${name}`);
  return found;
}

function check(raw: Record<string, string | boolean>) {
  const all = fields();
  return checkForm(all, { ...initialValues(all), ...raw }, compileChecks(all));
}

const valid = { name: "Ada", color: JSON.stringify("green"), items: "[1, 2]" };

describe("describeFields", () => {
  it("picks a control per schema type; required inputs first, as declared, then the rest by name", () => {
    expect(fields().map((f) => [f.name, f.control])).toEqual([
      ["name", "text"],
      ["color", "select"],
      ["items", "json"],
      ["count", "number"],
      ["level", "select"],
      ["note", "text"],
      ["ratio", "number"],
      ["verbose", "checkbox"],
    ]);
    expect(field("count").integer).toBe(true);
    expect(field("ratio").integer).toBe(false);
  });

  it("marks required inputs and keeps descriptions", () => {
    expect(
      fields()
        .filter((f) => f.required)
        .map((f) => f.name),
    ).toEqual(required);
    expect(field("name").description).toBe("Who to greet");
    expect(field("note").description).toBeUndefined();
  });

  it("prefills defaults and leaves the rest empty", () => {
    expect(initialValues(fields())).toEqual({
      count: "4",
      name: "",
      color: "",
      ratio: "",
      verbose: false,
      items: "",
      note: "",
      level: "",
    });
    const withDefaults = describeFields(
      {
        color: { type: "string", enum: ["red", "green"], default: "green" },
        on: { type: "boolean", default: true },
        tags: { type: "array", items: { type: "string" }, default: ["a"] },
        who: { type: "string", default: "world" },
      },
      [],
    );
    expect(initialValues(withDefaults)).toEqual({
      color: '"green"',
      on: true,
      tags: JSON.stringify(["a"], null, 2),
      who: "world",
    });
  });

  it("offers enum values and unions of literals as choices, keeping their JSON types", () => {
    expect(field("color").options).toEqual([
      { value: '"red"', label: "red" },
      { value: '"green"', label: "green" },
    ]);
    expect(field("level").options.map((o) => o.value)).toEqual(["1", "2"]);
    expect(parseField(field("level"), "2")).toEqual({ ok: true, value: 2 });
  });

  it("describes constraints without zod's safe-integer bounds", () => {
    expect(field("count").hint).toBe("integer, at least 0");
    expect(field("count").min).toBe(0);
    expect(field("count").max).toBeUndefined();
    expect(field("ratio").hint).toBe("number, greater than 0, at most 1");
    expect(field("name").hint).toBe("at least 2 characters");
    expect(field("items").hint).toBe("JSON: array of number");
  });
});

describe("checkForm", () => {
  it("turns the controls' text into typed inputs, defaults included", () => {
    expect(check({ ...valid, count: " 12 ", ratio: "0.5", verbose: true })).toEqual({
      ok: true,
      inputs: { count: 12, name: "Ada", color: "green", ratio: 0.5, verbose: true, items: [1, 2] },
    });
  });

  it("omits optional inputs left empty", () => {
    const result = check({ ...valid, count: "", note: "" });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(Object.keys(result.inputs)).not.toContain("count");
      expect(Object.keys(result.inputs)).not.toContain("note");
      expect(Object.keys(result.inputs)).not.toContain("ratio");
    }
  });

  it("says which required inputs are missing", () => {
    expect(check({})).toEqual({
      ok: false,
      errors: { name: "name is required", color: "color is required", items: "items is required" },
    });
  });

  it("rejects a fractional integer and a number below its minimum", () => {
    expect(check({ ...valid, count: "2.5" })).toEqual({
      ok: false,
      errors: { count: "count must be an integer" },
    });
    expect(check({ ...valid, count: "-1" })).toEqual({
      ok: false,
      errors: { count: "count must be at least 0" },
    });
  });

  it("rejects numbers outside exclusive and inclusive bounds", () => {
    expect(check({ ...valid, ratio: "0" })).toEqual({
      ok: false,
      errors: { ratio: "ratio must be greater than 0" },
    });
    expect(check({ ...valid, ratio: "1.5" })).toEqual({
      ok: false,
      errors: { ratio: "ratio must be at most 1" },
    });
  });

  it("rejects text that is not a number", () => {
    expect(check({ ...valid, count: "four" })).toEqual({
      ok: false,
      errors: { count: "count must be a number" },
    });
  });

  it("rejects a value outside the enum", () => {
    expect(check({ ...valid, color: '"blue"' })).toEqual({
      ok: false,
      errors: { color: 'color must be one of "red", "green"' },
    });
  });

  it("names the field whose JSON does not parse", () => {
    const result = check({ ...valid, items: "[1, 2" });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.items).toMatch(/^items is not valid JSON: /);
  });

  it("points into JSON values that break their schema", () => {
    expect(check({ ...valid, items: '[1, "two"]' })).toEqual({
      ok: false,
      errors: { items: "items[1] must be a number" },
    });
    expect(check({ ...valid, items: '{"a": 1}' })).toEqual({
      ok: false,
      errors: { items: "items must be a list" },
    });
  });

  it("checks string lengths", () => {
    expect(check({ ...valid, name: "A" })).toEqual({
      ok: false,
      errors: { name: "name must be at least 2 characters long" },
    });
  });

  it("compiles schemas that share an $id", () => {
    const twins = describeFields(
      { a: { $id: "same", type: "integer" }, b: { $id: "same", type: "integer" } },
      ["a", "b"],
    );
    expect(Object.keys(compileChecks(twins))).toEqual(["a", "b"]);
    expect(checkForm(twins, { a: "1", b: "1.5" }, compileChecks(twins))).toEqual({
      ok: false,
      errors: { b: "b must be an integer" },
    });
  });
});

describe("serverInputProblems", () => {
  const names = ["name", "count", "config"];

  it("maps the server's per-input problems to their fields", () => {
    const message =
      'invalid inputs for workflow "wf": input "name": must be string; missing required input "count"; (workflow "wf" takes: name, count, config)';
    expect(serverInputProblems(message, names)).toEqual({
      fields: { name: "name must be string", count: "count is required" },
    });
  });

  it("maps nested paths to the input that holds them", () => {
    const message =
      'invalid inputs for workflow "wf": input "config.retries": must be integer; (workflow "wf" takes: config)';
    expect(serverInputProblems(message, names)).toEqual({
      fields: { config: "config.retries must be integer" },
    });
  });

  it("accepts the short form `name: problem`", () => {
    expect(serverInputProblems("invalid inputs for wf: name: must be string", names)).toEqual({
      fields: { name: "name must be string" },
    });
  });

  it("keeps what names no field for the form", () => {
    const message =
      'invalid inputs for workflow "wf": input "name": must be string; unknown input "extra"; (workflow "wf" takes: name)';
    expect(serverInputProblems(message, names)).toEqual({
      fields: { name: "name must be string" },
      form: 'The server also refused: unknown input "extra"; (workflow "wf" takes: name)',
    });
  });

  it("gives the whole message to the form when no field is named", () => {
    const message =
      'invalid inputs for workflow "wf": unknown input "extra"; (workflow "wf" takes: name)';
    expect(serverInputProblems(message, names)).toEqual({ fields: {}, form: message });
  });
});
