import { describe, expect, it } from "vitest";

import {
  defaultMaxUnopenedSeconds,
  describePause,
  InteractiveSessionSchema,
  ResumeSessionInput,
} from "./sessions.js";

describe("the two session limits", () => {
  it("gives a session nobody opened a quarter of maxIdleSeconds, at least a minute, at most maxIdleSeconds", () => {
    expect(defaultMaxUnopenedSeconds(36_000)).toBe(9_000);
    expect(defaultMaxUnopenedSeconds(600)).toBe(150);
    expect(defaultMaxUnopenedSeconds(120)).toBe(60);
    expect(defaultMaxUnopenedSeconds(20)).toBe(20);
  });

  it("reads a session without a limit (an older record) as the idle one", () => {
    const session = InteractiveSessionSchema.parse({
      id: "s1",
      attemptId: "a1",
      state: "READY",
      maxIdleSeconds: 60,
      maxUnopenedSeconds: 60,
      createdAt: "2026-12-06T00:00:00.000Z",
    });
    expect(session.limit).toBe("idle");
  });
});

describe("pauses and resume choices", () => {
  it("says where a task is paused, as the console and the CLI show it", () => {
    const at = "2026-12-06T00:00:00.000Z";
    expect(
      describePause({ reason: "exception", file: "src/steps.ts", line: 12, message: "boom" }),
    ).toBe("paused at src/steps.ts:12: boom");
    expect(describePause({ reason: "before", file: "wf.ts", line: 3, message: "" })).toBe(
      "paused before the task at wf.ts:3",
    );
    expect(describePause({ reason: "exception", message: "boom", ...{ at } })).toBe(
      "paused at the task: boom",
    );
  });

  it("resumes with the edited code unless told otherwise, and refuses an unknown choice", () => {
    expect(ResumeSessionInput.parse({ executionId: "x", nodeId: "n0" }).choice).toBe("edited");
    expect(
      ResumeSessionInput.safeParse({ executionId: "x", nodeId: "n0", choice: "skip" }).success,
    ).toBe(false);
  });
});
