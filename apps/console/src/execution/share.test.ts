import { describe, expect, it } from "vitest";

import type { SessionAccess } from "../ui/types.js";
import {
  activeShares,
  connectionsText,
  readShareHours,
  SHARE_EXPIRIES,
  shareExpiresAt,
} from "./share.js";

const NOW = Date.parse("2030-01-01T12:00:00.000Z");

describe("share expiry options", () => {
  it("offers 1 h, 8 h and 24 h, and reads the select's value back", () => {
    expect(SHARE_EXPIRIES.map((e) => [e.hours, e.label])).toEqual([
      [1, "1 hour"],
      [8, "8 hours"],
      [24, "24 hours"],
    ]);
    expect(readShareHours("8")).toBe(8);
    expect(readShareHours("24")).toBe(24);
    expect(readShareHours("7")).toBe(1);
    expect(readShareHours("")).toBe(1);
  });

  it("sets the expiry that many hours from now", () => {
    expect(shareExpiresAt(1, NOW)).toBe("2030-01-01T13:00:00.000Z");
    expect(shareExpiresAt(24, NOW)).toBe("2030-01-02T12:00:00.000Z");
  });
});

describe("activeShares", () => {
  const share = (name: string, expiresAt: string, revokedAt?: string) => ({
    user: { id: name, name },
    grantedBy: { id: "u-ada", name: "Ada" },
    createdAt: "2030-01-01T11:00:00.000Z",
    expiresAt,
    ...(revokedAt ? { revokedAt } : {}),
  });

  it("lists the shares in force, soonest to end first", () => {
    const access: SessionAccess = {
      sessionId: "s1",
      shares: [
        share("late", "2030-01-01T20:00:00.000Z"),
        share("expired", "2030-01-01T11:59:59.000Z"),
        share("revoked", "2030-01-01T20:00:00.000Z", "2030-01-01T11:30:00.000Z"),
        share("soon", "2030-01-01T12:30:00.000Z"),
      ],
      openedBy: [],
      connected: [],
    };
    expect(activeShares(access, NOW).map((s) => s.user.name)).toEqual(["soon", "late"]);
    expect(activeShares(undefined, NOW)).toEqual([]);
  });

  it("counts connections in words", () => {
    expect(connectionsText(1)).toBe("1 connection");
    expect(connectionsText(3)).toBe("3 connections");
  });
});
