// A two-step pipeline for `drydock recover`: `settle` fails until its marker file exists, and `draw`'s output
// differs on every run, so a reused one is told apart from a re-run.
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";

import { task, workflow } from "@drydock/sdk";
import { z } from "zod";

export const draw = task({ name: "draw", inputs: {}, output: z.string() }, () => randomUUID());

export const settle = task(
  { name: "settle", inputs: { drawn: z.string(), marker: z.string() }, output: z.string() },
  ({ drawn, marker }) => {
    if (!existsSync(marker)) throw new Error(`no marker at ${marker} yet`);
    return `settled ${drawn}`;
  },
);

export const recoverable = workflow(
  { name: "recoverable", inputs: { marker: z.string() } },
  ({ marker }) => settle({ drawn: draw({}), marker }),
);
