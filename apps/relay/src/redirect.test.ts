import { describe, expect, it } from "vitest";

import { Refusal } from "./authority.js";
import { redirectTarget } from "./redirect.js";

const ORIGIN = "http://s1.localhost:8485";

describe("redirectTarget", () => {
  it("keeps a path on the session's origin, written as the URL parser understood it", () => {
    expect(redirectTarget(null, ORIGIN)).toBe("/");
    expect(redirectTarget("", ORIGIN)).toBe("/");
    expect(redirectTarget("/?folder=/work", ORIGIN)).toBe("/?folder=/work");
    expect(redirectTarget("/a b/é#x", ORIGIN)).toBe("/a%20b/%C3%A9#x");
    expect(redirectTarget("/a/../b", ORIGIN)).toBe("/b");
  });

  it.each([
    ["another host", "//evil.example/"],
    ["a tab, which browsers drop", "/\t/evil.example/"],
    ["a line break", "/\r\nSet-Cookie: x=1"],
    ["a NUL", "/\u0000"],
    ["a backslash", "/\\evil.example/"],
    ["an absolute URL", "http://evil.example/"],
    ["a javascript: URL", "javascript:alert(1)"],
    ["a relative path", "evil"],
  ])("refuses %s with a 400 that names the link", (_name, next) => {
    const refusal = redirectTarget(next, ORIGIN);
    expect(refusal).toBeInstanceOf(Refusal);
    expect(refusal).toMatchObject({
      status: 400,
      message: expect.stringContaining("is refused") as string,
    });
  });
});
