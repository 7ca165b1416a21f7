/**
 * How a paused task's session can end, as the task pane offers it: a button per choice and what its
 * confirmation says the choice does. A pause point (`before`) has not run the task yet, so `original` lets
 * the held process go on instead of starting a new attempt.
 */
import type { PauseInfo, ResumeChoice } from "../ui/types.js";

export interface ResumeOffer {
  choice: ResumeChoice;
  /** The pane's button. */
  label: string;
  /** The confirmation's title. */
  question: string;
  /** What the choice does, in the confirmation. */
  effect: string;
  /** It ends the node for good. */
  danger: boolean;
}

const EDITED: ResumeOffer = {
  choice: "edited",
  label: "Resume with edits",
  question: "Resume with the edited code?",
  effect:
    "The paused process ends, and the task runs for real with the code as edited in the IDE and its original inputs: it writes its outputs and the workflow continues downstream.",
  danger: false,
};

const AFTER_THROW: readonly ResumeOffer[] = [
  EDITED,
  {
    choice: "original",
    label: "Run original again",
    question: "Run the original code again?",
    effect:
      "The paused process ends and this attempt fails with its error; a new attempt runs the registered code again with the same inputs. Edits made in the IDE are kept for Download changes.",
    danger: false,
  },
  {
    choice: "fail",
    label: "End as failed",
    question: "End the task as failed?",
    effect:
      "The paused process ends and the node fails with the original error and stack. It is not retried, and nothing downstream runs.",
    danger: true,
  },
];

const BEFORE_RUN: readonly ResumeOffer[] = [
  EDITED,
  {
    choice: "original",
    label: "Run original again",
    question: "Run the original code?",
    effect:
      "The held process goes on and runs the registered code for real, in this attempt: it writes its outputs and the workflow continues downstream.",
    danger: false,
  },
  {
    choice: "fail",
    label: "End as failed",
    question: "End the task as failed?",
    effect:
      "The task does not run: the node fails as ended before it ran. It is not retried, and nothing downstream runs.",
    danger: true,
  },
];

/** The three choices for a session paused at a throw or before its task, in the pane's order. */
export function resumeOffers(pause: Pick<PauseInfo, "reason">): readonly ResumeOffer[] {
  return pause.reason === "before" ? BEFORE_RUN : AFTER_THROW;
}
