/**
 * The Drydock VS Code extension in a real session: installed by default, in headless Chromium
 * through the relay, talking to its agent over the session's control socket.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchChromium, processTable, ROOT, startStack, tearDown, waitFor } from "./harness.js";
import type { Stack } from "./harness.js";
import { openFile, replaceAndSave, runCommand, waitForTerminal } from "./ide.js";
import { launchInteractivePipeline } from "./interactive-pipeline.js";

/** Where a failure's screenshot goes. */
const SHOTS = join(ROOT, "e2e/artifacts/extension");

let stack: Stack;
let browser: Browser;
let ide: Page;
let executionId: string;
let workspace: string;

const session = async () =>
  (await stack.api.executions.get.query({ id: executionId })).nodes
    .find((n) => n.nodeId === "n1")
    ?.attempts.at(-1)?.session;

beforeAll(async () => {
  stack = await startStack();
  executionId = await launchInteractivePipeline(stack);
  const ready = await waitFor(
    "the session to be READY",
    async () => ((await session())?.state === "READY" ? await session() : undefined),
    120_000,
  );
  // Where the agent laid the workspace out, from the task's log.
  const attemptId = ready?.attemptId ?? "";
  workspace = await waitFor(
    "the workspace path in the log",
    async () =>
      (await stack.api.executions.logs.query({ attemptId })).text.match(
        /VS Code workspace: (\S+)/,
      )?.[1],
  );
  browser = await launchChromium();
  ide = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await ide.goto((await stack.api.sessions.ideTicket.mutate({ sessionId: ready?.id ?? "" })).url);
  await ide.waitForSelector(".monaco-workbench", { timeout: 90_000 });
});

afterAll(() => tearDown({ browser, executionId, stack }));

describe("the Drydock extension in a session", () => {
  it("is installed by default: its Task view lists the node and the inputs it received", async () => {
    await ide.locator('.activitybar [aria-label^="Drydock"]').first().click();
    const view = ide.locator(".pane", { has: ide.locator(".pane-header", { hasText: /Task/i }) });
    await view.getByText("x = 21").waitFor({ timeout: 30_000 });
    await view.getByText("double").first().waitFor();
    await view.getByText("make_number").first().waitFor();
  });

  it("counts down to the idle end in the status bar; a click keeps the session alive (the record's deadline moves)", async () => {
    const item = ide.locator(".statusbar-item", { hasText: /Idle in \d/ }).first();
    await item.waitFor({ timeout: 30_000 });
    const before = Date.parse((await session())?.idleDeadline ?? "");
    await ide.waitForTimeout(2_500);
    // The page's own traffic through the relay is activity too, so compare with the deadline right before the click.
    const justBefore = Date.parse((await session())?.idleDeadline ?? "");
    expect(justBefore).toBeGreaterThanOrEqual(before);
    await item.click();
    // The click reached the agent (its task log says so) and the deadline on the session record moved.
    const attemptId = (await session())?.attemptId ?? "";
    await expect
      .poll(async () => (await stack.api.executions.logs.query({ attemptId })).text, {
        timeout: 10_000,
      })
      .toContain("keep-alive from the IDE");
    await expect
      .poll(async () => Date.parse((await session())?.idleDeadline ?? ""), { timeout: 10_000 })
      .toBeGreaterThan(justBefore);
  });

  it("runs Interactive Debugging on an edited input override, leaving the received inputs and the outputs untouched", async () => {
    await runCommand(ide, "Drydock: Edit Input Override");
    await ide
      .locator('.tab[data-resource-name="inputs.override.json"].active')
      .waitFor({ timeout: 15_000 });
    await replaceAndSave(ide, "21", "5");
    await runCommand(ide, "Drydock: Interactive Debugging");
    const terminal = await waitForTerminal(ide, "double returned 10");
    expect(terminal).toContain("using the input override in .drydock/inputs.override.json");
    expect(JSON.parse(await readFile(join(workspace, ".drydock/inputs.json"), "utf8"))).toEqual({
      x: 21,
    });
    const node = (await stack.api.executions.get.query({ id: executionId })).nodes.find(
      (n) => n.nodeId === "n1",
    );
    expect(node?.status).toBe("RUNNING");
    expect(node?.outputs).toBeUndefined();
  });

  it("Show Changes opens a diff of an edit against the registered source", async () => {
    await openFile(ide, "pipeline.ts");
    await replaceAndSave(ide, "x * 2; // EDIT ME", "x * 3; // EDIT ME");
    await expect
      .poll(() => readFile(join(workspace, "pipeline.ts"), "utf8"), { timeout: 10_000 })
      .toContain("x * 3; // EDIT ME");
    await runCommand(ide, "Drydock: Show Changes");
    await ide
      .locator(".monaco-diff-editor")
      .first()
      .waitFor({ timeout: 30_000 })
      .catch(async (error: unknown) => {
        await mkdir(SHOTS, { recursive: true });
        await ide.screenshot({ path: join(SHOTS, "show-changes-failed.png") });
        throw error;
      });
    await ide.locator(".tab.active", { hasText: "pipeline.ts (registered ↔ edited)" }).waitFor();
  });

  it("Resume Task from the command palette, confirmed, resumes the edited task and the execution succeeds", async () => {
    await runCommand(ide, "Drydock: Resume Task");
    await ide.locator(".monaco-dialog-box").getByRole("button", { name: "Resume Task" }).click();
    const detail = await waitFor(
      "the execution to end",
      async () => {
        const d = await stack.api.executions.get.query({ id: executionId });
        return d.execution.status === "RUNNING" ? undefined : d;
      },
      60_000,
    );
    expect(detail.execution).toMatchObject({ status: "SUCCEEDED", result: "the answer is 63" });
    expect(detail.nodes.find((n) => n.nodeId === "n1")?.attempts.at(-1)?.session).toMatchObject({
      state: "ENDED",
      endReason: "resumed",
    });
    await waitFor(
      "no code-server process",
      async () =>
        (await processTable()).some((p) => p.cmdline.includes("code-server")) ? undefined : true,
      20_000,
    );
  });
});
