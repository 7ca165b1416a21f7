import { describe, expect, it } from "vitest";

import { RESUME_BUTTONS, resumeDialog } from "./resume-dialog.js";

const exception = { reason: "exception" } as const;
const before = { reason: "before" } as const;

describe("resumeDialog", () => {
  it("asks Resume Task's question as the resume script does, saying the paused process ends when there is one", () => {
    expect(resumeDialog("edited", { task: "parse" })).toEqual({
      message: "Resume task parse? code-server stops and the task runs with the edited sources",
      detail:
        "The task runs for real with the inputs it received (never the input override) and its output goes downstream. This window disconnects.",
      button: "Resume Task",
    });
    const paused = resumeDialog("edited", { task: "parse", paused: exception, unsaved: 2 });
    expect(paused.detail).toBe(
      "The paused process ends, and the task runs for real with the inputs it received (never the input override) and its output goes downstream. This window disconnects.\n\n2 unsaved files are saved first.",
    );
    expect(resumeDialog("edited", { task: "parse", unsaved: 1 }).detail).toMatch(
      /\n\n1 unsaved file is saved first\.$/,
    );
  });

  it("runs the original code again as a new attempt after a throw, or continues the held process at a pause point", () => {
    const again = resumeDialog("original", { task: "parse", paused: exception });
    expect(again.message).toBe("Run the original code of task parse again?");
    expect(again.detail).toMatch(
      /this attempt fails with its error; a new attempt runs the registered code/,
    );
    const held = resumeDialog("original", { task: "parse", paused: before });
    expect(held.message).toBe("Run the original code of task parse?");
    expect(held.detail).toMatch(/^The paused process continues with the registered code/);
    expect([again.button, held.button]).toEqual(["Run Original Code", "Run Original Code"]);
  });

  it("ends as failed with the original error, or before the task ran at a pause point; never retried, downstream not run", () => {
    const failed = resumeDialog("fail", { task: "parse", paused: exception });
    expect(failed).toMatchObject({ message: "End task parse as failed?", button: "End as Failed" });
    expect(failed.detail).toMatch(
      /fails with its original error and stack; it is not retried and the nodes downstream do not run/,
    );
    expect(resumeDialog("fail", { task: "parse", paused: before }).detail).toMatch(
      /^The task does not run: the node fails \("ended as failed before it ran"\)/,
    );
  });

  it("names each choice's button as the design does", () => {
    expect(RESUME_BUTTONS).toEqual({
      edited: "Resume Task",
      original: "Run Original Code",
      fail: "End as Failed",
    });
  });
});
