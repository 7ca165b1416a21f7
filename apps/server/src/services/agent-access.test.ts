import { describe, expect, it } from "vitest";

import type { AgentProcedure, AttemptEnd } from "./agent-access.js";
import { mayCallAfterEnd, TEARDOWN_GRACE_MS } from "./agent-access.js";

const now = new Date("2026-12-01T12:00:00Z");
const ended = (status: string, agoMs = 1_000, outputsSha256: string | null = null): AttemptEnd => ({
  status,
  endedAt: new Date(now.getTime() - agoMs),
  outputsSha256,
});
const allowed = (procedure: AgentProcedure, end: AttemptEnd, input?: unknown) =>
  mayCallAfterEnd(procedure, end, input, now);

describe("mayCallAfterEnd: what an agent token may still do once its attempt ended", () => {
  it("refuses log lines, saved edits, sessions and a new start after an end the agent reported itself", () => {
    for (const status of ["SUCCEEDED", "FAILED"]) {
      for (const procedure of [
        "log",
        "updateSession",
        "endSession",
        "openSession",
        "started",
        "assignment",
      ] as const) {
        expect(allowed(procedure, ended(status, 10)), `${procedure} after ${status}`).toBe(false);
      }
    }
  });

  it("answers the heartbeat (it tells the agent to stop) and hands a warm agent its next attempt after its own end", () => {
    for (const status of ["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "LOST"])
      expect(allowed("heartbeat", ended(status))).toBe(true);
    expect(allowed("next", ended("SUCCEEDED"))).toBe(true);
    expect(allowed("next", ended("FAILED"))).toBe(true);
    expect(allowed("next", ended("ABORTED"))).toBe(false);
  });

  it("accepts a retried report only when it is the one recorded", () => {
    const sha = "a".repeat(64);
    expect(allowed("complete", ended("SUCCEEDED", 1_000, sha), { outputsSha256: sha })).toBe(true);
    expect(
      allowed("complete", ended("SUCCEEDED", 1_000, sha), { outputsSha256: "b".repeat(64) }),
    ).toBe(false);
    expect(allowed("complete", ended("ABORTED"), { outputsSha256: sha })).toBe(false);
    expect(allowed("fail", ended("FAILED"))).toBe(true);
    expect(allowed("fail", ended("SUCCEEDED", 1_000, sha))).toBe(false);
  });

  it("lets an agent stopped by the platform flush its last lines and edits for a short grace, then no more", () => {
    for (const status of ["ABORTED", "TIMED_OUT", "LOST"]) {
      for (const procedure of ["log", "updateSession", "endSession"] as const) {
        expect(allowed(procedure, ended(status, TEARDOWN_GRACE_MS - 1))).toBe(true);
        expect(allowed(procedure, ended(status, TEARDOWN_GRACE_MS + 1))).toBe(false);
      }
      expect(allowed("openSession", ended(status, 10))).toBe(false);
    }
  });
});
