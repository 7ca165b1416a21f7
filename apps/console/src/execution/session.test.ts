import { describe, expect, it } from "vitest";

import { T, testSession } from "../__tests__/fixtures.js";
import type { NodeExecution } from "../ui/types.js";
import {
  canDebug,
  canOpenIde,
  countdownText,
  formatRemaining,
  hadSession,
  isLiveSession,
  latestSession,
  patchFileName,
  resumeRecordText,
  sessionEndExplanation,
  sessionHeadline,
} from "./session.js";
import { formatTimeOfDay } from "./time-of-day.js";

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
    expect(countdownText(deadline, Date.parse(T) + 1_000)).toBe("Ends idle in 4m 59s");
    expect(countdownText(deadline, Date.parse(T) + 1_000, "idle")).toBe("Ends idle in 4m 59s");
    expect(countdownText(deadline, Date.parse(T) + 299_500)).toBe("Ends idle in 0s");
    expect(countdownText(deadline, Date.parse(deadline))).toBe("Ending idle now…");
    expect(countdownText("not a date", 0)).toBe("");
  });

  it("says the session ends unless opened while nobody has opened it", () => {
    const deadline = "2030-01-01T00:05:00.000Z";
    expect(countdownText(deadline, Date.parse(T) + 1_000, "unopened")).toBe(
      "Session ends in 4m 59s unless opened",
    );
    expect(countdownText(deadline, Date.parse(deadline) + 1, "unopened")).toBe(
      "Ending now: nobody opened it…",
    );
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

  it("says a session nobody opened ended unopened, after how long", () => {
    const ended = session({ state: "ENDED", endReason: "unopened", maxUnopenedSeconds: 120 });
    expect(sessionHeadline(ended)).toBe("Session ended: unopened");
    expect(sessionEndExplanation(ended)).toBe(
      "nobody opened the IDE within 120 s (its maxUnopenedSeconds), so it was stopped and the attempt failed",
    );
  });

  it("says how a resumed session resumed, by the choice recorded, else the one asked for", () => {
    const resumed = (extra = {}) => session({ state: "ENDED", endReason: "resumed", ...extra });
    const record = (choice: "edited" | "original" | "fail" | "continued") => ({
      choice,
      by: "ada@example.com",
      at: T,
    });
    expect(sessionEndExplanation(resumed())).toBe(
      "the task was resumed and ran with the edited code",
    );
    expect(sessionEndExplanation(resumed({ resumeChoice: "fail" }))).toBe(
      "the task was ended as failed",
    );
    expect(sessionEndExplanation(resumed({ resumeChoice: "fail" }), record("original"))).toBe(
      "the task's original code runs again, as a new attempt",
    );
    expect(sessionEndExplanation(resumed(), record("continued"))).toBe(
      "the task was continued in the debugger and ran to its end",
    );
  });

  it("says which resume choice an attempt recorded, who made it and when", () => {
    expect(resumeRecordText({ choice: "original", by: "alice@example.com", at: T })).toBe(
      `resumed: original by alice@example.com at ${formatTimeOfDay(T)}`,
    );
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
