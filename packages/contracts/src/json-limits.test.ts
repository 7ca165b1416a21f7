import { describe, expect, it } from "vitest";

import { CreateExecutionInput } from "./executions.js";
import { jsonDepth, jsonLimitProblem, MAX_INPUTS_BYTES, utf8Length } from "./json-limits.js";

const nested = (levels: number) =>
  JSON.parse(`${"[".repeat(levels)}${"]".repeat(levels)}`) as unknown;

describe("JSON limits", () => {
  it("measures nesting without recursing, whatever the depth", () => {
    expect(jsonDepth("x")).toBe(0);
    expect(jsonDepth({ a: [1, { b: null }] })).toBe(3);
    expect(jsonDepth(nested(100), 100)).toBe(100);
    expect(jsonDepth(nested(1_000_000), 100)).toBe(101);
  });

  it("counts UTF-8 bytes as Buffer does", () => {
    for (const text of ["", "abc", "é", "€", "😀", "a\u0000b", "\ud800"])
      expect(utf8Length(text), text).toBe(Buffer.byteLength(text));
  });

  it("names the limit a value breaks", () => {
    expect(jsonLimitProblem("inputs", { a: nested(99) })).toBeUndefined();
    expect(jsonLimitProblem("inputs", { a: nested(100) })).toBe(
      "inputs nest deeper than 100 levels of arrays and objects (the limit is 100)",
    );
    expect(jsonLimitProblem("inputs", { a: "x".repeat(10) }, { maxBytes: 12 })).toMatch(
      /^inputs are 18 bytes as JSON; the limit is 12 bytes: /,
    );
  });

  it("refuses launch inputs over the limits before the recursive schema walks them", () => {
    const deep = CreateExecutionInput.safeParse({
      project: "default",
      workflow: "wf",
      inputs: { a: nested(200_000) },
    });
    expect(deep.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["inputs", expect.stringContaining("the limit is 100")],
    ]);
    const large = CreateExecutionInput.safeParse({
      project: "default",
      workflow: "wf",
      inputs: { a: "x".repeat(MAX_INPUTS_BYTES) },
    });
    expect(large.error?.issues[0]?.message).toMatch(/the limit is 16 MiB \(16777216 bytes\)/);
    expect(CreateExecutionInput.parse({ project: "default", workflow: "wf" }).inputs).toEqual({});
    expect(
      CreateExecutionInput.parse({ project: "default", workflow: "wf", inputs: { a: "a\u0000b" } })
        .inputs,
    ).toEqual({ a: "a\u0000b" });
  });
});
