import { describe, expect, it } from "vitest";

import { ImageSpec } from "./image.js";

describe("ImageSpec", () => {
  it("turns into data with defaults filled in", () => {
    expect(new ImageSpec({ name: "interactive-tasks-example" }).toData()).toEqual({
      name: "interactive-tasks-example",
      packages: [],
      env: {},
    });
    expect(
      new ImageSpec({
        name: "img",
        baseImage: "node:20",
        packages: ["lodash"],
        env: { A: "1" },
      }).toData(),
    ).toEqual({
      name: "img",
      baseImage: "node:20",
      packages: ["lodash"],
      env: { A: "1" },
    });
  });

  it("is not changed by later edits to the arrays it was given or returned", () => {
    const packages = ["lodash"];
    const image = new ImageSpec({ name: "img", packages });
    packages.push("left-pad");
    image.toData().packages.push("zod");
    expect(image.toData().packages).toEqual(["lodash"]);
  });

  it("rejects an empty name", () => {
    expect(() => new ImageSpec({ name: "" })).toThrow("invalid ImageSpec: name");
  });
});
