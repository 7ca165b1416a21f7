/**
 * The question each resume choice asks before the session ends (a modal dialog): what happens to the
 * paused process, this attempt and the node. Pure: `commands.ts` shows it and calls the agent.
 */
import type { ResumeChoice } from "@drydock/contracts";

import type { PausedState } from "./paused.js";

export interface ResumeDialog {
  message: string;
  detail: string;
  /** The confirming button; anything else (Cancel, Escape) leaves the session as it is. */
  button: string;
}

export const RESUME_BUTTONS = {
  edited: "Resume Task",
  original: "Run Original Code",
  fail: "End as Failed",
} as const satisfies Record<ResumeChoice, string>;

export interface ResumeDialogInput {
  task: string;
  /** The task's process, when the context says it is paused. */
  paused?: Pick<PausedState, "reason">;
  /** Unsaved files of the workspace (`edited` saves them first). */
  unsaved?: number;
}

const DISCONNECTS = "This window disconnects.";

export function resumeDialog(choice: ResumeChoice, input: ResumeDialogInput): ResumeDialog {
  const { task, paused, unsaved = 0 } = input;
  const before = paused?.reason === "before";
  if (choice === "edited") {
    return {
      // The same question the generated resume script asks in the terminal.
      message: `Resume task ${task}? code-server stops and the task runs with the edited sources`,
      detail: paragraphs(
        `${paused ? "The paused process ends, and the task" : "The task"} runs for real with the inputs it received (never the input override) and its output goes downstream. ${DISCONNECTS}`,
        unsaved > 0 ? `${unsaved} unsaved file${unsaved === 1 ? " is" : "s are"} saved first.` : "",
      ),
      button: RESUME_BUTTONS.edited,
    };
  }
  if (choice === "original") {
    return before
      ? {
          message: `Run the original code of task ${task}?`,
          detail: paragraphs(
            `The paused process continues with the registered code and the inputs it received; its output goes downstream. Your edits do not run (Show Changes keeps them). ${DISCONNECTS}`,
          ),
          button: RESUME_BUTTONS.original,
        }
      : {
          message: `Run the original code of task ${task} again?`,
          detail: paragraphs(
            `The paused process ends and this attempt fails with its error; a new attempt runs the registered code (it pauses again if it throws again). Your edits do not run (Show Changes keeps them). ${DISCONNECTS}`,
          ),
          button: RESUME_BUTTONS.original,
        };
  }
  return {
    message: `End task ${task} as failed?`,
    detail: paragraphs(
      before
        ? `The task does not run: the node fails ("ended as failed before it ran"), it is not retried and the nodes downstream do not run. ${DISCONNECTS}`
        : `The paused process ends and the node fails with its original error and stack; it is not retried and the nodes downstream do not run. ${DISCONNECTS}`,
    ),
    button: RESUME_BUTTONS.fail,
  };
}

function paragraphs(...texts: string[]): string {
  return texts.filter(Boolean).join("\n\n");
}
