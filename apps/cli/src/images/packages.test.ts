import { describe, expect, it } from "vitest";

import { TaskImageError } from "./errors.js";
import { checkImagePackages, imagePackageName, parseImagePackage } from "./packages.js";

describe("imagePackageName", () => {
  it.each([
    ["is-number@7.0.0", "is-number"],
    ["is-number", "is-number"],
    ["@scope/x@1", "@scope/x"],
    ["@scope/x", "@scope/x"],
    ["lodash@^4.17.21", "lodash"],
    ["lodash@~4.17", "lodash"],
    ["lodash@4.x", "lodash"],
    ["lodash@latest", "lodash"],
    ["pkg@1.0.0-beta.1+build.5", "pkg"],
    ["JSONStream@1.3.5", "JSONStream"],
    ["lodash.merge@4.6.2", "lodash.merge"],
  ])("%s → %s", (spec, name) => {
    expect(imagePackageName(spec)).toBe(name);
  });
});

describe("parseImagePackage", () => {
  it.each([
    "",
    "-g",
    "--global",
    "is-number@",
    "@scope/",
    "@scope/x@",
    "~user",
    "a b",
    "x@>=1.0.0",
    "x@1 || 2",
    "x@<2",
    "x@*",
    "x;rm -rf /",
    "x&&id",
    "x|id",
    "$(id)",
    "x@`id`",
    "x@$HOME",
    "x'",
    'x"',
    "x\nRUN id",
    "./local",
    "../x",
    "/abs/path",
    "file:../x",
    "npm:alias@1",
    "git+https://github.com/a/b.git",
    "https://example.com/x.tgz",
    "github:user/repo",
    `${"a".repeat(215)}@1`,
  ])("refuses %j, naming it and the image", (spec) => {
    const attempt = () => parseImagePackage(spec, "tools");
    expect(attempt).toThrow(TaskImageError);
    expect(attempt).toThrow(
      `ImageSpec "tools": package ${JSON.stringify(spec)} is not an npm package spec`,
    );
  });

  it("returns the spec as given with its name", () => {
    expect(parseImagePackage("@scope/x@^1.2.0")).toEqual({
      name: "@scope/x",
      spec: "@scope/x@^1.2.0",
    });
  });
});

describe("checkImagePackages", () => {
  it("sorts by name and drops exact repeats", () => {
    expect(
      checkImagePackages("tools", ["zod@4", "@a/b", "is-number@7.0.0", "zod@4"]).map((p) => p.spec),
    ).toEqual(["@a/b", "is-number@7.0.0", "zod@4"]);
  });

  it("refuses one package named twice with different specs", () => {
    expect(() => checkImagePackages("tools", ["is-number@7.0.0", "is-number@6.0.0"])).toThrow(
      'ImageSpec "tools" names package is-number twice (is-number@7.0.0 and is-number@6.0.0)',
    );
  });
});
