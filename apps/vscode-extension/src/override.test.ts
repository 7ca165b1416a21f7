import { describe, expect, it } from "vitest";

import { analyzeOverride, initialOverrideText, jsonEqual, lineAndColumn } from "./override.js";

const originals = { name: "world", config: { retries: 3, tags: ["a", "b"] }, count: 1 };

describe("initialOverrideText", () => {
  it("is the original inputs as pretty JSON, and reads back as an override that changes nothing", () => {
    const text = initialOverrideText(originals);
    expect(text).toBe(
      '{\n  "name": "world",\n  "config": {\n    "retries": 3,\n    "tags": [\n      "a",\n      "b"\n    ]\n  },\n  "count": 1\n}\n',
    );
    expect(analyzeOverride(text, originals)).toEqual({
      kind: "active",
      values: originals,
      changed: [],
      missing: [],
      extra: [],
    });
  });
});

describe("analyzeOverride", () => {
  it("is none without a file", () => {
    expect(analyzeOverride(undefined, originals)).toEqual({ kind: "none" });
  });

  it("lists the keys that differ, are missing and are extra", () => {
    const text = JSON.stringify({
      name: "Ada",
      config: { tags: ["a", "b"], retries: 3 },
      verbose: true,
    });
    expect(analyzeOverride(text, originals)).toEqual({
      kind: "active",
      values: { name: "Ada", config: { tags: ["a", "b"], retries: 3 }, verbose: true },
      changed: ["name"],
      missing: ["count"],
      extra: ["verbose"],
    });
  });

  it("sees a change deep inside a value, and a change of type", () => {
    const text = JSON.stringify({
      name: "world",
      config: { retries: 3, tags: ["b", "a"] },
      count: "1",
    });
    expect(analyzeOverride(text, originals)).toMatchObject({
      kind: "active",
      changed: ["config", "count"],
      missing: [],
      extra: [],
    });
  });

  it("reports a syntax error with its line and column", () => {
    const text = '{\n  "name": "Ada",\n  "count": \n}\n';
    expect(analyzeOverride(text, originals)).toEqual({
      kind: "invalid",
      message: "line 4, column 1: a value is expected",
      line: 4,
      column: 1,
    });
  });

  it("reports a missing comma, a trailing comma and a comment where they are", () => {
    expect(analyzeOverride('{"name": "Ada"\n "count": 2}', originals)).toMatchObject({
      line: 2,
      column: 2,
      message: "line 2, column 2: ',' is expected between entries",
    });
    expect(analyzeOverride('{"name": "Ada",}', originals)).toMatchObject({
      kind: "invalid",
      line: 1,
      column: 16,
    });
    expect(analyzeOverride('{\n  // mine\n  "name": "Ada"\n}', originals)).toMatchObject({
      kind: "invalid",
      line: 2,
      column: 3,
      message: "line 2, column 3: comments are not allowed in JSON",
    });
  });

  it("reports an empty file and an unclosed object", () => {
    expect(analyzeOverride("", originals)).toMatchObject({
      kind: "invalid",
      line: 1,
      column: 1,
      message: "line 1, column 1: a value is expected",
    });
    expect(analyzeOverride('{"name": "Ada"', originals)).toMatchObject({
      kind: "invalid",
      message: "line 1, column 15: '}' is expected",
    });
  });

  it("refuses JSON that is not an object", () => {
    expect(analyzeOverride("[1, 2]", originals)).toEqual({
      kind: "invalid",
      message: "must be a JSON object of input names to values, not an array",
    });
    expect(analyzeOverride("null", originals)).toEqual({
      kind: "invalid",
      message: "must be a JSON object of input names to values, not null",
    });
    expect(analyzeOverride('"world"', originals)).toEqual({
      kind: "invalid",
      message: "must be a JSON object of input names to values, not a string",
    });
  });

  it("does not take inherited keys for inputs", () => {
    expect(analyzeOverride('{"toString": 1}', {})).toMatchObject({
      kind: "active",
      extra: ["toString"],
      changed: [],
    });
  });
});

describe("lineAndColumn", () => {
  it("counts 1-based, across \\n and \\r\\n", () => {
    expect(lineAndColumn("abc", 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn("ab\ncd", 4)).toEqual({ line: 2, column: 2 });
    expect(lineAndColumn("ab\r\ncd", 5)).toEqual({ line: 2, column: 2 });
  });
});

describe("jsonEqual", () => {
  it("ignores key order, not array order or types", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual(1, "1")).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});
