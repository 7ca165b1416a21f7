import { describe, expect, it } from "vitest";

import { formatRemaining, localDeadline, renderCountdown } from "./countdown.js";
import { sampleStatus } from "./test/fixtures.js";

describe("formatRemaining", () => {
  it("shows m:ss under an hour, rounding partial seconds up", () => {
    expect(formatRemaining(299_000)).toBe("4:59");
    expect(formatRemaining(298_001)).toBe("4:59");
    expect(formatRemaining(300_000)).toBe("5:00");
    expect(formatRemaining(7_000)).toBe("0:07");
    expect(formatRemaining(1)).toBe("0:01");
    expect(formatRemaining(59 * 60_000 + 59_000)).toBe("59:59");
  });

  it("shows h:mm:ss from an hour on", () => {
    expect(formatRemaining(3_600_000)).toBe("1:00:00");
    expect(formatRemaining(3_723_000)).toBe("1:02:03");
    expect(formatRemaining(10 * 3_600_000 + 5_000)).toBe("10:00:05");
  });

  it("never goes below 0:00", () => {
    expect(formatRemaining(0)).toBe("0:00");
    expect(formatRemaining(-5_000)).toBe("0:00");
  });
});

describe("localDeadline", () => {
  const fetchedAt = Date.parse("2030-01-01T00:00:00.000Z");

  it("counts from the local fetch time with the agent's remaining time, whatever the server clock says", () => {
    // The server's clock is 42 s ahead of ours: its deadline would be 42 s late on our clock.
    const status = sampleStatus({
      idleDeadline: "2030-01-01T00:05:42.000Z",
      idleRemainingMs: 300_000,
    });
    expect(localDeadline(status, fetchedAt)).toBe(fetchedAt + 300_000);
  });

  it("keeps the local deadline while the server's deadline stands, so a repeated remaining time does not push it back", () => {
    const status = sampleStatus({
      idleDeadline: "2030-01-01T00:05:00.000Z",
      idleRemainingMs: 300_000,
    });
    const first = { status, deadline: localDeadline(status, fetchedAt) };
    // 15 s later the agent repeats what the server told it last: the countdown must not jump back to 5:00.
    expect(localDeadline(status, fetchedAt + 15_000, first)).toBe(fetchedAt + 300_000);
    const moved = sampleStatus({
      idleDeadline: "2030-01-01T00:05:15.000Z",
      idleRemainingMs: 300_000,
    });
    expect(localDeadline(moved, fetchedAt + 15_000, first)).toBe(fetchedAt + 315_000);
  });

  it("falls back to the server's deadline, then to none", () => {
    expect(
      localDeadline(
        sampleStatus({ idleRemainingMs: undefined, idleDeadline: "2030-01-01T00:02:00.000Z" }),
        fetchedAt,
      ),
    ).toBe(fetchedAt + 120_000);
    expect(
      localDeadline(
        sampleStatus({ idleRemainingMs: undefined, idleDeadline: undefined }),
        fetchedAt,
      ),
    ).toBeUndefined();
    expect(
      localDeadline(
        sampleStatus({ idleRemainingMs: undefined, idleDeadline: "not a date" }),
        fetchedAt,
      ),
    ).toBeUndefined();
  });
});

describe("renderCountdown", () => {
  const now = 1_000_000;
  const open = sampleStatus({ maxIdleSeconds: 300 });

  it("ticks from the deadline and explains the click", () => {
    const view = renderCountdown(open, now + 299_000, now);
    expect(view).toEqual({
      text: "$(watch) Idle in 4:59",
      tooltip: "The session ends after 300 s without activity. Click to keep it alive.",
      warning: false,
    });
    expect(renderCountdown(open, now + 299_000, now + 1_000).text).toBe("$(watch) Idle in 4:58");
  });

  it("shows hours above an hour", () => {
    expect(
      renderCountdown(sampleStatus({ maxIdleSeconds: 36_000 }), now + 3 * 3_600_000, now).text,
    ).toBe("$(watch) Idle in 3:00:00");
  });

  it("warns under a minute left, not at a minute", () => {
    expect(renderCountdown(open, now + 60_000, now).warning).toBe(false);
    expect(renderCountdown(open, now + 59_999, now)).toMatchObject({
      text: "$(watch) Idle in 1:00",
      warning: true,
    });
    expect(renderCountdown(open, now + 5_000, now)).toMatchObject({
      text: "$(watch) Idle in 0:05",
      warning: true,
    });
  });

  it("says 'Idle now' once the deadline passed", () => {
    expect(renderCountdown(open, now, now)).toMatchObject({
      text: "$(watch) Idle now",
      warning: true,
    });
    expect(renderCountdown(open, now - 10_000, now).text).toBe("$(watch) Idle now");
  });

  it("says 'Resuming…' once the session is ending or a resume was asked for, whatever the deadline", () => {
    expect(renderCountdown(sampleStatus({ state: "ending" }), now + 100_000, now)).toMatchObject({
      text: "$(sync~spin) Resuming…",
      warning: false,
    });
    expect(renderCountdown(sampleStatus({ resumeRequested: true }), now - 1, now).text).toBe(
      "$(sync~spin) Resuming…",
    );
  });

  it("counts down the unopened limit as 'ends in M:SS unless opened' while the server has not seen the IDE opened", () => {
    const unopened = sampleStatus({ maxIdleSeconds: 300, limit: "unopened" });
    expect(renderCountdown(unopened, now + 75_000, now)).toEqual({
      text: "$(watch) ends in 1:15 unless opened",
      tooltip:
        "Nobody has opened this session yet, as far as the server knows: it ends unless opened. Once opened, it ends after 300 s without activity. Click to keep it alive.",
      warning: false,
    });
    expect(renderCountdown(unopened, now + 5_000, now)).toMatchObject({
      text: "$(watch) ends in 0:05 unless opened",
      warning: true,
    });
    expect(renderCountdown(unopened, now, now)).toMatchObject({
      text: "$(watch) ends now unless opened",
      warning: true,
    });
    expect(renderCountdown(unopened, undefined, now).text).toBe("$(watch) ends unless opened");
    // Once the server flips the limit to idle, the same deadline reads as today's idle countdown.
    expect(renderCountdown({ ...unopened, limit: "idle" }, now + 75_000, now).text).toBe(
      "$(watch) Idle in 1:15",
    );
  });

  it("says 'Resuming…' rather than the unopened countdown once a resume was asked for", () => {
    expect(
      renderCountdown(sampleStatus({ limit: "unopened", state: "ending" }), now + 5_000, now).text,
    ).toBe("$(sync~spin) Resuming…");
  });

  it("shows no countdown when the agent knows no deadline", () => {
    expect(renderCountdown(open, undefined, now)).toMatchObject({
      text: "$(watch) Idle timer",
      warning: false,
    });
  });
});
