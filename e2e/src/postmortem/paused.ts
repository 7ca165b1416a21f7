/** Helpers of the post-mortem tests: the fixture's lines, a node's paused session, and VS Code's debugger views. */
import { readFileSync } from "node:fs";

import type { ExecutionDetail, InteractiveSession } from "@drydock/contracts";
import type { Page } from "playwright-core";

import { fixture, processTable, waitFor } from "../harness.js";
import type { Stack } from "../harness.js";

export const SOURCE = fixture("postmortem/pipeline.ts");

/** The 1-based line of the fixture holding `marker` (a comment such as `// THROWS`). */
export function lineOf(marker: string): number {
  const index = readFileSync(SOURCE, "utf8")
    .split("\n")
    .findIndex((line) => line.includes(marker));
  if (index < 0) throw new Error(`no ${marker} in ${SOURCE}`);
  return index + 1;
}

/** The node's latest attempt's session once it is READY and paused (its attempt number at least `attempt`). */
export function pausedSession(
  stack: Stack,
  executionId: string,
  nodeId: string,
  attempt = 1,
): Promise<InteractiveSession & { pause: NonNullable<InteractiveSession["pause"]> }> {
  return waitFor(
    `node ${nodeId}'s attempt ${attempt} to be paused with its IDE READY`,
    async () => {
      const { execution, nodes } = await stack.api.executions.get.query({ id: executionId });
      if (execution.status !== "RUNNING")
        throw new Error(
          `the execution ended ${execution.status}: ${JSON.stringify(execution.error)}`,
        );
      const last = nodes.find((n) => n.nodeId === nodeId)?.attempts.at(-1);
      const session = last?.session;
      return last && last.number >= attempt && session?.state === "READY" && session.pause
        ? { ...session, pause: session.pause }
        : undefined;
    },
    120_000,
  );
}

export function ended(stack: Stack, id: string, timeoutMs = 120_000): Promise<ExecutionDetail> {
  return waitFor(
    `execution ${id} to end`,
    async () => {
      const detail = await stack.api.executions.get.query({ id });
      return detail.execution.status === "RUNNING" ? undefined : detail;
    },
    timeoutMs,
  );
}

/** The pids of paused-task runners and code-servers still running (nothing may survive an ending). */
export async function leftovers(): Promise<string[]> {
  return (await processTable())
    .filter((p) => p.cmdline.includes("paused-runner.js") || p.cmdline.includes("code-server"))
    .map((p) => `${p.pid} ${p.cmdline}`);
}

/**
 * The text of one of the Run and Debug view's parts: `.debug-call-stack`, `.debug-variables`. The view is
 * opened first when another one shows (VS Code opens it by itself on a break, not on attaching to one).
 */
export async function debugView(ide: Page, part: "call-stack" | "variables"): Promise<string> {
  const view = ide.locator(`.debug-${part}`);
  if (!(await view.isVisible())) await ide.keyboard.press("Control+Shift+D");
  return view.innerText({ timeout: 5_000 });
}

/** The Variables view's text once every pattern matches it (the scopes load after the Call Stack shows). */
export function variablesShowing(ide: Page, ...patterns: RegExp[]): Promise<string> {
  return waitFor(
    `Variables to show ${patterns.join(", ")}`,
    async () => {
      const text = await debugView(ide, "variables").catch(() => "");
      return patterns.every((p) => p.test(text)) ? text : undefined;
    },
    30_000,
  );
}

/** Evaluates `expression` in the Debug Console (the focused frame) and waits for `answer` in its output. */
export async function evaluateInDebugConsole(
  ide: Page,
  expression: string,
  answer: string,
): Promise<string> {
  await ide.keyboard.press("Control+Shift+Y");
  await ide.locator(".repl-input-wrapper").click();
  await ide.keyboard.type(expression);
  await ide.keyboard.press("Enter");
  return waitFor(
    `the Debug Console to answer ${answer}`,
    async () => {
      const text = await ide.locator(".repl").innerText();
      return text.split("\n").some((line) => line.trim() === answer) ? text : undefined;
    },
    30_000,
  );
}
