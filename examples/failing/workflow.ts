// A task that always fails, to show retries and how a failed run is reported.
import { task, workflow } from "@drydock/sdk";
import { z } from "zod";

let attempts = 0;

/** How many times `flaky` has run in this process (tests read it to see the retries happen). */
export const flakyAttempts = (): number => attempts;

export const flaky = task(
  { name: "flaky", inputs: {}, output: z.string(), retries: 2 },
  async () => {
    attempts++;
    throw new Error("the flaky task failed on purpose");
  },
);

export const failing = workflow({ name: "failing" }, () => flaky({}));
