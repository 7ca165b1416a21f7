/**
 * What a new user does with the hello example, in the console and the IDE, shared by the browser tests of every
 * way the stack runs (`drydock up`, docker-compose, a fresh machine): launch `wf` from its form, open
 * VSCode (User) through the relay, run Interactive Debugging on the real input, edit the greeting, Resume Task,
 * and see the execution SUCCEEDED with the edited output. `wf` (examples/hello) must be registered.
 */
import { join } from "node:path";

import type { BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";

import { IDE_RUNTIME } from "@drydock/agent";

import {
  aboutText,
  openFile,
  replaceAndSave,
  searchInFiles,
  startFromRunAndDebug,
  typeInTerminal,
  waitForTerminal,
} from "./ide.js";

export const pane = (page: Page) => page.getByTestId("task-pane");
export const ideLink = (page: Page) => pane(page).getByRole("link", { name: "VSCode (User)" });

export interface DebugAndResumeOptions {
  /** The console's origin, e.g. http://127.0.0.1:8484. */
  consoleOrigin: string;
  /** Screenshots go here when given. */
  shots?: string;
  /** Runs once the IDE link is there, before it is clicked (a test opens a second page to follow it live). */
  whileReady?: (id: string) => Promise<void>;
  /** The IDE's host name: `<session>.<IDE host>`; default `localhost`. */
  ideHost?: string;
}

/** Launches, debugs, edits and resumes `wf` from `page` (signed in, on any console page); returns the execution's id and the IDE's page. */
export async function launchDebugAndResume(
  context: BrowserContext,
  page: Page,
  options: DebugAndResumeOptions,
): Promise<{ id: string; ide: Page }> {
  const shot = (target: Page, name: string, fullPage = true) =>
    options.shots
      ? target.screenshot({ path: join(options.shots, name), fullPage })
      : Promise.resolve(undefined);

  // Launch wf from its form, generated from the input schema: name defaults to world.
  await page
    .getByRole("navigation", { name: "Main" })
    .getByRole("link", { name: "Workflows" })
    .click();
  await page.getByRole("link", { name: "wf", exact: true }).click();
  const name = page.getByLabel("name", { exact: true });
  await expect.poll(() => name.inputValue()).toBe("world");
  await name.fill("world");
  await page.getByRole("button", { name: "Launch" }).click();
  await page.waitForURL(/\/executions\/x[a-z0-9]+/);
  const id = new URL(page.url()).pathname.split("/").pop() ?? "";

  // The node goes Running; its pane shows the VSCode (User) link once the IDE answers through the relay.
  await page.getByTestId("dag-node-n0").click();
  await pane(page).locator('[data-status="RUNNING"]').first().waitFor({ timeout: 60_000 });
  await ideLink(page).waitFor({ timeout: 120_000 });
  await shot(page, "execution-running.png");
  await options.whileReady?.(id);

  // One click: the IDE opens in a new tab on the relay's own origin, on the task's workspace.
  const [ide] = await Promise.all([context.waitForEvent("page"), ideLink(page).click()]);
  await ide.waitForSelector(".monaco-workbench", { timeout: 90_000 });
  const ideOrigin = new URL(ide.url());
  expect(ideOrigin.hostname.split(".").slice(1).join(".")).toBe(options.ideHost ?? "localhost");
  expect(ideOrigin.hostname).toMatch(/^s[a-z0-9]+\./);
  expect(ideOrigin.origin).not.toBe(options.consoleOrigin);
  await ide
    .locator(".explorer-folders-view")
    .getByText("workflow.ts", { exact: true })
    .waitFor({ timeout: 30_000 });
  // The Drydock extension is installed by default and reaches the agent: its status bar item counts down.
  await ide
    .locator(".statusbar-item", { hasText: /Idle in \d/ })
    .first()
    .waitFor({ timeout: 30_000 });
  await openFile(ide, "workflow.ts");
  // The IDE is the pinned, current code-server, and its search in files (ripgrep) works.
  expect(await aboutText(ide)).toContain(IDE_RUNTIME.codeServer);
  expect(await searchInFiles(ide, "sayHello")).toContain("workflow.ts");
  await openFile(ide, "workflow.ts");

  // Interactive Debugging from the Run and Debug view prints the task's result for its real input.
  await startFromRunAndDebug(ide, "Interactive Debugging");
  await waitForTerminal(ide, 'say_hello returned "Hello, world!"');
  await shot(ide, "ide-interactive-debugging.png", false);

  // Meanwhile the console still shows the node running, with no outputs.
  await expect
    .poll(() => pane(page).locator("[data-status]").first().getAttribute("data-status"))
    .toBe("RUNNING");
  expect(await pane(page).getByText("No outputs yet").count()).toBe(1);
  expect(await page.getByTestId("execution-status").getAttribute("data-status")).toBe("RUNNING");

  // Edit the greeting, save, and Resume Task (confirming in its terminal).
  await replaceAndSave(ide, "Hello,", "Howdy,");
  await startFromRunAndDebug(ide, "Resume Task");
  await waitForTerminal(ide, "[y/N]");
  await typeInTerminal(ide, "y");

  // The console shows the node and the execution SUCCEEDED with the edited greeting; the link is gone.
  await page
    .getByTestId("execution-status")
    .and(page.locator('[data-status="SUCCEEDED"]'))
    .waitFor({ timeout: 60_000 });
  await pane(page)
    .getByTestId("node-outputs")
    .getByText("Howdy, world!")
    .waitFor({ timeout: 10_000 });
  expect(await ideLink(page).count()).toBe(0);
  await shot(page, "execution-succeeded.png");
  return { id, ide };
}
