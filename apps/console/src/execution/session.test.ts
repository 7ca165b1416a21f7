import { describe, expect, it } from "vitest";

import { T, testSession } from "../__tests__/fixtures.js";
import type { NodeExecution } from "../ui/types.js";
import {
  canDebug,
  canOpenIde,
  formatRemaining,
  hadSession,
  idleCountdownText,
  isLiveSession,
  latestSession,
  patchFileName,
  sessionEndExplanation,
  sessionHeadline,
} from "./session.js";

const session = testSession;
const node = (extra: Partial<NodeExecution> = {}): NodeExecution => ({
  executionId: "x1",
  nodeId: "n0",
  task: "t",
  status: "RUNNING",
  attempts: [],
  ...extra,
});

describe("idle countdown", () => {
  it("formats what is left in the largest two units", () => {
    expect(formatRemaining(299_000)).toBe("4m 59s");
    expect(formatRemaining(60_000)).toBe("1m 00s");
    expect(formatRemaining(42_900)).toBe("42s");
    expect(formatRemaining(7_260_000)).toBe("2h 01m");
    expect(formatRemaining(-5)).toBe("0s");
  });

  it("counts down to the deadline against the clock it is given", () => {
    const deadline = "2030-01-01T00:05:00.000Z";
    expect(idleCountdownText(deadline, Date.parse(T) + 1_000)).toBe("Ends idle in 4m 59s");
    expect(idleCountdownText(deadline, Date.parse(T) + 299_500)).toBe("Ends idle in 0s");
    expect(idleCountdownText(deadline, Date.parse(deadline))).toBe("Ending idle now…");
    expect(idleCountdownText("not a date", 0)).toBe("");
  });
});

describe("session wording", () => {
  it("says where the session stands and why it ended", () => {
    expect(sessionHeadline(session())).toBe("VS Code is starting…");
    expect(sessionHeadline(session({ state: "READY" }))).toBe("VS Code is ready");
    expect(sessionHeadline(session({ state: "ENDED", endReason: "idle" }))).toBe(
      "Session ended: idle",
    );
    expect(sessionHeadline(session({ state: "ENDED", endReason: "resumed" }))).toBe(
      "Session ended: resumed",
    );
    expect(sessionEndExplanation(session({ state: "ENDED", endReason: "idle" }))).toMatch(
      /idle time/,
    );
    expect(sessionEndExplanation(session({ state: "READY" }))).toBeUndefined();
  });
});

describe("what the pane offers", () => {
  it("offers the IDE link only while READY with a link", () => {
    expect(canOpenIde(session({ state: "READY", link: "http://s1.localhost/" }))).toBe(true);
    expect(canOpenIde(session({ state: "READY" }))).toBe(false);
    expect(canOpenIde(session({ state: "STARTING", link: "http://s1.localhost/" }))).toBe(false);
    expect(canOpenIde(session({ state: "ENDED", link: "http://s1.localhost/" }))).toBe(false);
    expect(canOpenIde(undefined)).toBe(false);
  });

  it("acts on the latest attempt's session while it lives", () => {
    const first = session({ id: "old", state: "ENDED" });
    const second = session({ id: "new", state: "READY" });
    const n = node({
      attempts: [
        {
          id: "a1",
          executionId: "x1",
          nodeId: "n0",
          number: 1,
          status: "FAILED",
          createdAt: T,
          session: first,
        },
        {
          id: "a2",
          executionId: "x1",
          nodeId: "n0",
          number: 2,
          status: "RUNNING",
          createdAt: T,
          session: second,
        },
      ],
    });
    expect(latestSession(n)).toBe(second);
    expect(isLiveSession(second)).toBe(true);
    expect(isLiveSession(first)).toBe(false);
    expect(hadSession(n)).toBe(true);
    expect(hadSession(node())).toBe(false);
  });

  it("offers Debug for a finished task node that recorded its inputs", () => {
    expect(canDebug(node({ status: "SUCCEEDED", inputs: { x: 1 } }), false)).toBe(true);
    expect(canDebug(node({ status: "FAILED", inputs: {} }), false)).toBe(true);
    expect(canDebug(node({ status: "ABORTED", inputs: {} }), false)).toBe(true);
    expect(canDebug(node({ status: "RUNNING", inputs: {} }), false)).toBe(false);
    expect(canDebug(node({ status: "SKIPPED", inputs: {} }), false)).toBe(false);
    expect(canDebug(node({ status: "FAILED" }), false)).toBe(false);
    expect(canDebug(node({ status: "SUCCEEDED", inputs: {} }), true)).toBe(false);
  });

  it("names the patch after the execution and node, safely", () => {
    expect(patchFileName("x1abc", "n0")).toBe("x1abc-n0.patch");
    expect(patchFileName("x1abc", "n1[0]")).toBe("x1abc-n1_0_.patch");
  });
});
