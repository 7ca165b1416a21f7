import { describe, expect, it } from "vitest";

import { CookieSigner, SESSION_COOKIE, withoutSessionCookie } from "./cookies.js";

describe("the session cookie", () => {
  const signer = new CookieSigner("a-secret-of-sixteen-or-more");
  const value = signer.sign({ sessionId: "s1", userId: "ada@example.com", expires: 2_000 });
  const header = `other=1; ${SESSION_COOKIE}=${value}`;

  it("reads back what it signed, again after the first check", () => {
    const grant = { sessionId: "s1", userId: "ada@example.com", expires: 2_000 };
    expect(signer.read(header, 1_000)).toEqual(grant);
    expect(signer.read(header, 1_500)).toEqual(grant);
  });

  it("says expired once the time has come, whether or not it was checked before", () => {
    expect(signer.read(header, 1_000)).toMatchObject({ sessionId: "s1" });
    expect(signer.read(header, 2_000)).toEqual({ problem: "expired" });
    const fresh = new CookieSigner("a-secret-of-sixteen-or-more");
    expect(fresh.read(header, 2_001)).toEqual({ problem: "expired" });
  });

  it("refuses a value changed by a single character, another key's value, and no cookie", () => {
    const tampered = value.replace("v1.s1.", "v1.s2.");
    expect(signer.read(`${SESSION_COOKIE}=${tampered}`, 1_000)).toEqual({ problem: "invalid" });
    expect(new CookieSigner("another-secret-0123456789").read(header, 1_000)).toEqual({
      problem: "invalid",
    });
    expect(signer.read("other=1", 1_000)).toEqual({ problem: "missing" });
    expect(signer.read(undefined, 1_000)).toEqual({ problem: "missing" });
  });

  it("refuses to sign an expiry that is not whole seconds", () => {
    expect(() => signer.sign({ sessionId: "s1", userId: "u", expires: 1.5 })).toThrow(
      /whole seconds/,
    );
  });

  it("is removed from what crosses to the IDE, the rest kept", () => {
    expect(withoutSessionCookie(header)).toBe("other=1");
    expect(withoutSessionCookie(`${SESSION_COOKIE}=${value}`)).toBeNull();
    expect(withoutSessionCookie("a=1; b=2")).toBe("a=1; b=2");
  });
});
