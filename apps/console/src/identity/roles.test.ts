import { describe, expect, it } from "vitest";

import { testMe } from "../__tests__/fixtures.js";
import type { SessionAccess } from "../ui/types.js";
import {
  ASK_OWNER_TO_SHARE,
  effectiveRole,
  ideGate,
  isSharedWith,
  ROLE_CHOICES,
  roleAtLeast,
  roleGate,
  shareGate,
} from "./roles.js";

const NOW = Date.parse("2030-01-01T12:00:00.000Z");
const bob = { id: "u-bob", name: "Bob" };
const ada = { id: "u-ada", name: "Ada" };

function access(shares: Partial<SessionAccess["shares"][number]>[]): SessionAccess {
  return {
    sessionId: "s1",
    owner: bob,
    shares: shares.map((s) => ({
      user: ada,
      grantedBy: bob,
      createdAt: "2030-01-01T11:00:00.000Z",
      expiresAt: "2030-01-01T13:00:00.000Z",
      ...s,
    })),
    openedBy: [],
    connected: [],
  };
}

describe("roles", () => {
  it("orders the roles viewer < editor < admin", () => {
    expect(ROLE_CHOICES).toEqual(["viewer", "editor", "admin"]);
    expect(roleAtLeast("admin", "editor")).toBe(true);
    expect(roleAtLeast("editor", "editor")).toBe(true);
    expect(roleAtLeast("viewer", "editor")).toBe(false);
    expect(roleAtLeast(undefined, "viewer")).toBe(false);
  });

  it("takes my role from my membership, admin everywhere for an instance admin, capped by a key's ceiling", () => {
    expect(effectiveRole(testMe({ ops: "editor" }), "ops")).toBe("editor");
    expect(effectiveRole(testMe({ ops: "editor" }), "default")).toBeUndefined();
    expect(effectiveRole(testMe({}, { instanceAdmin: true }), "anything")).toBe("admin");
    expect(effectiveRole({ ...testMe({ ops: "admin" }), ceiling: "viewer" }, "ops")).toBe("viewer");
    expect(effectiveRole({ ...testMe({ ops: "viewer" }), ceiling: "admin" }, "ops")).toBe("viewer");
    expect(effectiveRole(undefined, "ops")).toBeUndefined();
  });

  it("gates an editor action for a viewer with a tooltip naming the role needed", () => {
    expect(roleGate(testMe({ default: "editor" }), "default", "editor")).toEqual({ allowed: true });
    expect(roleGate(testMe({ default: "viewer" }), "default", "editor")).toEqual({
      allowed: false,
      reason: "Needs the editor role in project default (you are a viewer)",
    });
    expect(roleGate(testMe(), "default", "editor")).toEqual({
      allowed: false,
      reason: "Needs the editor role in project default (you are not a member)",
    });
  });

  it("lets an editor open the IDE, and a viewer only while a share to them is in force", () => {
    const viewer = testMe({ default: "viewer" });
    expect(ideGate(testMe({ default: "editor" }), "default", undefined, NOW).allowed).toBe(true);
    expect(ideGate(viewer, "default", undefined, NOW)).toEqual({
      allowed: false,
      reason: ASK_OWNER_TO_SHARE,
    });
    expect(ideGate(viewer, "default", access([{}]), NOW).allowed).toBe(true);
    // Expired, revoked, or shared with someone else: refused.
    expect(isSharedWith(access([{ expiresAt: "2030-01-01T12:00:00.000Z" }]), "u-ada", NOW)).toBe(
      false,
    );
    expect(isSharedWith(access([{ revokedAt: "2030-01-01T11:30:00.000Z" }]), "u-ada", NOW)).toBe(
      false,
    );
    expect(ideGate(viewer, "default", access([{ user: bob }]), NOW).allowed).toBe(false);
  });

  it("lets the owner or a project admin share, nobody else", () => {
    expect(shareGate(testMe({ default: "viewer" }), "default", ada).allowed).toBe(true);
    expect(shareGate(testMe({ default: "admin" }), "default", bob).allowed).toBe(true);
    expect(shareGate(testMe({ default: "editor" }), "default", bob).allowed).toBe(false);
    expect(shareGate(testMe({ default: "editor" }), "default", undefined).allowed).toBe(false);
  });
});
