import { describe, expect, it } from "vitest";

import { formatLocalTime, formatRelativeTime } from "./relative-time.js";

describe("formatRelativeTime", () => {
  const at = "2025-01-01T12:00:00.000Z";
  const after = (ms: number) => Date.parse(at) + ms;

  it("counts seconds, minutes and hours", () => {
    expect(formatRelativeTime(at, after(2_000))).toBe("just now");
    expect(formatRelativeTime(at, after(12_000))).toBe("12 s ago");
    expect(formatRelativeTime(at, after(3 * 60_000 + 59_000))).toBe("3 min ago");
    expect(formatRelativeTime(at, after(5 * 3_600_000))).toBe("5 h ago");
  });

  it("gives the local date after a day", () => {
    expect(formatRelativeTime(at, after(30 * 3_600_000))).toBe(formatLocalTime(at));
    expect(formatLocalTime(at)).toMatch(/2025/);
  });

  it("shows what it cannot read as it is", () => {
    expect(formatRelativeTime("yesterday", Date.now())).toBe("yesterday");
  });
});
