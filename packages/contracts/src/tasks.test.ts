import { describe, expect, it } from "vitest";

import { NodeSelectorSchema } from "./tasks.js";

describe("NodeSelectorSchema", () => {
  const valid = (selector: Record<string, string>) =>
    NodeSelectorSchema.safeParse(selector).success;

  it("takes label keys of 1 to 63 characters, with a prefix, and values of at most 63, empty included", () => {
    expect(valid({ gpu: "true", "node.example.com/zone": "eu-1", disk_type: "" })).toBe(true);
    expect(valid({ ["k".repeat(63)]: "v".repeat(63) })).toBe(true);
    expect(valid({})).toBe(true);
  });

  it("refuses keys and values outside label syntax, naming the label", () => {
    expect(valid({ ["k".repeat(64)]: "v" })).toBe(false);
    expect(valid({ k: "v".repeat(64) })).toBe(false);
    expect(valid({ "-gpu": "true" })).toBe(false);
    expect(valid({ "": "true" })).toBe(false);
    expect(valid({ gpu: "a==b" })).toBe(false);
    const issues = NodeSelectorSchema.safeParse({ "gpu model": "a100", gpu: "yes please" }).error
      ?.issues;
    expect(issues?.map((i) => [i.path.join("."), i.message])).toEqual([
      [
        "gpu model",
        "a node label key is 1 to 63 letters, digits, '.', '_', '-' or '/', starting with a letter or digit",
      ],
      ["gpu", "a node label value is at most 63 letters, digits, '.', '_' or '-'"],
    ]);
  });
});
