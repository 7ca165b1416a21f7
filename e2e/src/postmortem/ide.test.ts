/**
 * Post-mortem debugging in a real browser: a `vscode({ onFailure: "pause" })` task throws three frames below its
 * function; its process stays paused at the throw, and the IDE opened from the console's task pane is attached to
 * it by the Drydock extension — the editor on the throwing `.ts` line, the Call Stack and Variables with the real
 * values, the Debug Console evaluating in that frame. Then the IDE's resume choices: the original code again (a
 * second attempt, which pauses at the same throw), end as failed (the node FAILS with the original stack,
 * downstream never runs), and an edit resumed (SUCCEEDED, the edited output downstream).
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drydock, launchChromium, startStack, tearDown, waitFor } from "../harness.js";
import type { Stack } from "../harness.js";
import { ideLink, pane } from "../debug-and-resume.js";
import { replaceAndSave, runCommand } from "../ide.js";
import { startedId } from "../reuse/executions.js";
import { signInPage } from "../sign-in.js";
import {
  debugView,
  ended,
  evaluateInDebugConsole,
  leftovers,
  lineOf,
  pausedSession,
  SOURCE,
  variablesShowing,
} from "./paused.js";

const THROW_LINE = lineOf("// THROWS");
const MESSAGE = "60 x 2 is over 100";

const started: { stack?: Stack; browser?: Browser; executionId?: string } = {};
let stack: Stack;
let context: BrowserContext;
/** The execution whose IDE is opened first, then resumed with the original code, then ended as failed. */
let first: string;
let ide: Page;

beforeAll(async () => {
  stack = started.stack = await startStack();
  const browser = (started.browser = await launchChromium());
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const signIn = await context.newPage();
  await signInPage(signIn, stack);
  await signIn.close();
});

afterAll(() => tearDown(started));

async function launch(): Promise<string> {
  const run = await drydock(["run", "--remote", SOURCE, "postmortem_pipeline"], stack.env);
  expect(run.code, run.stderr).toBe(0);
  return (started.executionId = startedId(run));
}

/** The IDE of the node's live session, opened with a one-time ticket, once VS Code's debugger is attached. */
async function openAttachedIde(sessionId: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto((await stack.api.sessions.ideTicket.mutate({ sessionId })).url);
  await attached(page);
  return page;
}

/** Waits for the Drydock extension to have attached the debugger: the Call Stack shows the paused frames. */
function attached(page: Page): Promise<string> {
  return waitFor(
    "VS Code's debugger to attach to the paused task",
    async () => {
      const stack = await debugView(page, "call-stack").catch(() => "");
      return stack.includes("check") && stack.includes("pipeline.ts") ? stack : undefined;
    },
    90_000,
  );
}

describe("post-mortem debugging in the IDE", () => {
  it("pauses at a throw three frames deep; the IDE opens attached, on the .ts line, with the locals and a Debug Console in that frame", async () => {
    first = await launch();
    const session = await pausedSession(stack, first, "n1");
    expect(session.pause).toMatchObject({
      reason: "exception",
      line: THROW_LINE,
      message: MESSAGE,
      name: "RangeError",
    });
    expect(session.pause.file).toMatch(/pipeline\.ts$/);
    const throwToReady = Date.parse(session.createdAt) - Date.parse(session.pause.at);

    // The console's task pane says where the task is paused, and links the IDE.
    const page = await context.newPage();
    await page.goto(`${stack.url}/executions/${first}?node=n1`);
    await pane(page)
      .getByText(`paused at ${session.pause.file}:${THROW_LINE}: ${MESSAGE}`)
      .waitFor({ timeout: 30_000 });
    [ide] = await Promise.all([context.waitForEvent("page"), ideLink(page).click()]);
    const callStack = await attached(ide);

    // The editor is on the throwing line of the .ts source (source maps), the frames below it listed.
    expect(callStack).toMatch(new RegExp(`check\\s+pipeline\\.ts\\s+${THROW_LINE}:\\d+`));
    // VS Code lists the first frame, then the rest on request (or by itself a moment later, when the row asking
    // for them goes away under a click): the two helpers and the task function below it.
    const more = ide.locator(".debug-call-stack .monaco-list-row", {
      hasText: "Load More Stack Frames",
    });
    const frames = await waitFor("the frames below the throw", async () => {
      const text = await debugView(ide, "call-stack");
      if (/scaleAll\s+pipeline\.ts/.test(text) && /normalise\s+pipeline\.ts/.test(text))
        return text;
      if (await more.count())
        await more
          .first()
          .click({ timeout: 2_000 })
          .catch(() => undefined);
      return undefined;
    });
    await ide.locator('.tab.active[data-resource-name="pipeline.ts"]').waitFor();
    await ide
      .locator(".statusbar-item", { hasText: new RegExp(`Ln ${THROW_LINE}, Col \\d+`) })
      .first()
      .waitFor();
    await variablesShowing(ide, /limit =\s*100/, /v =\s*60/, /factor =\s*2/);
    // An expression over two locals of the throwing frame, answered in the page.
    await evaluateInDebugConsole(ide, "v * 1000 + limit", "60100");
    const shown = frames
      .split("\n")
      .filter((line) => /^(check|scaleAll|normalise|<anonymous>)$|^\d+:\d+$/.test(line.trim()))
      .join(" ");
    console.log(
      `post-mortem: ${session.pause.file}:${THROW_LINE} "${MESSAGE}"; Call Stack: ${shown}; Variables v=60 limit=100 factor=2; Debug Console: v * 1000 + limit = 60100; throw → session opened ${throwToReady} ms`,
    );
    await page.close();
  });

  it("Resume Task with Original Code ends the attempt; the second attempt runs the original code and pauses at the same throw", async () => {
    await runCommand(ide, "Drydock: Resume Task with Original Code");
    await ide
      .locator(".monaco-dialog-box")
      .getByRole("button", { name: "Run Original Code" })
      .click();
    const second = await pausedSession(stack, first, "n1", 2);
    expect(second.pause).toMatchObject({ reason: "exception", line: THROW_LINE, message: MESSAGE });
    const { nodes } = await stack.api.executions.get.query({ id: first });
    const attempts = nodes.find((n) => n.nodeId === "n1")?.attempts ?? [];
    expect(attempts.map((a) => a.status)).toEqual(["FAILED", "RUNNING"]);
    expect(attempts[0]?.error?.message).toBe(MESSAGE);
    expect(attempts[0]?.resume).toMatchObject({ choice: "original", by: "the IDE" });
    await ide.close();
    ide = await openAttachedIde(second.id);
  });

  it("End Task as Failed fails the node with the original error and stack; downstream never runs; no process is left", async () => {
    await runCommand(ide, "Drydock: End Task as Failed");
    await ide.locator(".monaco-dialog-box").getByRole("button", { name: "End as Failed" }).click();
    const detail = await ended(stack, first);
    expect(detail.execution.status).toBe("FAILED");
    const n1 = detail.nodes.find((n) => n.nodeId === "n1");
    expect(n1?.status).toBe("FAILED");
    expect(n1?.error?.message).toBe(MESSAGE);
    expect(n1?.error?.stack).toMatch(/at check \(.*pipeline\.ts:\d+:\d+\)/);
    expect(n1?.attempts.at(-1)?.resume).toMatchObject({ choice: "fail", by: "the IDE" });
    expect(n1?.attempts).toHaveLength(2);
    const n2 = detail.nodes.find((n) => n.nodeId === "n2");
    expect(n2?.attempts ?? []).toEqual([]);
    expect(n2?.status).not.toBe("SUCCEEDED");

    const shown = await drydock(["executions", "get", first], stack.env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/resumed: original by the IDE/);
    expect(shown.stdout).toMatch(/resumed: fail by the IDE/);
    await ide.close();
    expect(
      await waitFor("no paused task or code-server left", async () =>
        (await leftovers()).length === 0 ? true : undefined,
      ),
    ).toBe(true);
  });

  it("an edit in the IDE, then Resume Task: the edited code runs for real, SUCCEEDED, its output downstream", async () => {
    const id = await launch();
    const session = await pausedSession(stack, id, "n1");
    ide = await openAttachedIde(session.id);
    await ide.locator('.tab.active[data-resource-name="pipeline.ts"]').waitFor();
    await replaceAndSave(ide, "const limit = 100; // LIMIT", "const limit = 1000; // LIMIT");
    await runCommand(ide, "Drydock: Resume Task");
    await ide.locator(".monaco-dialog-box").getByRole("button", { name: "Resume Task" }).click();
    const detail = await ended(stack, id);
    expect(detail.execution.status).toBe("SUCCEEDED");
    expect(detail.execution.result).toBe("scaled: 20,120");
    const n1 = detail.nodes.find((n) => n.nodeId === "n1");
    expect(n1?.outputs).toEqual([20, 120]);
    expect(n1?.attempts.at(-1)?.resume).toMatchObject({ choice: "edited", by: "the IDE" });
    await ide.close();
    await waitFor("no paused task or code-server left", async () =>
      (await leftovers()).length === 0 ? true : undefined,
    );
  });
});
