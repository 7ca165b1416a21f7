/**
 * The web console in Chromium, as a new user meets it: the printed URL signs in, the launch form starts `wf`,
 * the task pane shows the VSCode (User) link once the IDE is ready, and the IDE (code-server through the relay,
 * on its own origin) debugs, edits and resumes the task, while the console follows live.
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

import type { Browser, BrowserContext, ConsoleMessage, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  drydock,
  example,
  fixture,
  launchChromium,
  processTable,
  removeStack,
  ROOT,
  startStack,
  waitFor,
} from "./harness.js";
import type { Stack } from "./harness.js";
import { ideLink, launchDebugAndResume, pane } from "./debug-and-resume.js";
import { printedSignInLink, signInPage } from "./sign-in.js";

/** Where the screenshots go (the test prints it). */
const SHOTS = join(ROOT, "e2e/artifacts/console");

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
/** Errors the console's pages logged (the IDE's own pages are not ours to judge). */
const consoleErrors: string[] = [];

const consoleUrl = () => printedSignInLink(stack.output()) ?? "";

async function newConsolePage(within: BrowserContext = context): Promise<Page> {
  const page = await within.newPage();
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error" && new URL(page.url()).origin === new URL(stack.url).origin)
      consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
  return page;
}

async function openExecution(page: Page, id: string, node: string): Promise<void> {
  await page.goto(`${stack.url}/executions/${id}?node=${node}`);
  await pane(page).waitFor();
}

async function launchRemote(
  file: string,
  workflow: string,
  inputs: string[] = [],
): Promise<string> {
  const launched = await drydock(["run", "--remote", file, workflow, ...inputs], stack.env);
  expect(launched.code, launched.stderr).toBe(0);
  return (launched.stdout + launched.stderr).match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";
}

async function noCodeServerLeft(): Promise<void> {
  await waitFor(
    "no code-server process",
    async () =>
      (await processTable()).some((p) => p.cmdline.includes("code-server")) ? undefined : true,
    20_000,
  );
}

beforeAll(async () => {
  await rm(SHOTS, { recursive: true, force: true });
  await mkdir(SHOTS, { recursive: true });
  stack = await startStack();
  browser = await launchChromium();
  context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  // Signed in with a link of its own: the printed one is single-use, and the first test follows it in a browser
  // that never was signed in.
  const signIn = await context.newPage();
  await signInPage(signIn, stack);
  await signIn.close();
});

afterAll(async () => {
  await browser?.close();
  if (stack) {
    for (const e of await stack.api.executions.list
      .query({ project: "default", status: "RUNNING", limit: 50 })
      .catch(() => [])) {
      await stack.api.executions.abort.mutate({ id: e.id }).catch(() => undefined);
    }
    await removeStack(stack);
  }
  process.stdout.write(`console screenshots: ${SHOTS}\n`);
});

describe("the console", () => {
  it("takes a new user from the printed URL to VS Code and back: launch wf, debug, edit, resume, SUCCEEDED with the edit", async () => {
    const registered = await drydock(["register", example("hello/workflow.ts")], stack.env);
    expect(registered.code, registered.stderr).toBe(0);

    // The URL `drydock up` printed signs in and lands on the (empty) executions list.
    const fresh = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    const page = await newConsolePage(fresh);
    await page.goto(consoleUrl());
    await page.getByRole("heading", { name: "No executions yet" }).waitFor();
    expect(new URL(page.url()).search).not.toContain("code");
    expect(page.url()).not.toContain(stack.token);

    // Launch, debug, edit and resume (debug-and-resume.ts); a second page on the same execution, opened before the IDE, follows it live.
    let watcher: Page | undefined;
    const { id } = await launchDebugAndResume(fresh, page, {
      consoleOrigin: new URL(stack.url).origin,
      shots: SHOTS,
      whileReady: async (executionId) => {
        watcher = await newConsolePage(fresh);
        await openExecution(watcher, executionId, "n0");
        await watcher.evaluate(() => Object.assign(window, { notReloaded: true }));
      },
    });
    if (!watcher) throw new Error("the IDE link never appeared");

    // The second page followed every change without reloading.
    await watcher
      .getByTestId("execution-status")
      .and(watcher.locator('[data-status="SUCCEEDED"]'))
      .waitFor();
    await pane(watcher).getByTestId("node-outputs").getByText("Howdy, world!").waitFor();
    expect(
      await watcher.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
    ).toBe(true);
    await noCodeServerLeft();

    // Download changes: the edit as a patch.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      pane(page).getByRole("button", { name: "Download changes" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`${id}-n0.patch`);
    const patch = await readFile((await download.path()) ?? "", "utf8");
    expect(patch).toContain(
      "-  vscode({ maxIdleSeconds: 60_000 }, async ({ name }) => `Hello, ${name}!`),",
    );
    expect(patch).toContain(
      "+  vscode({ maxIdleSeconds: 60_000 }, async ({ name }) => `Howdy, ${name}!`),",
    );

    // Debug re-runs the finished node in a new execution with an IDE, from the registered (unedited) code.
    await pane(page).getByRole("button", { name: "Debug", exact: true }).click();
    await page.waitForURL(
      (url) => url.pathname !== `/executions/${id}` && url.pathname.startsWith("/executions/x"),
    );
    const debugId = new URL(page.url()).pathname.split("/").pop() ?? "";
    expect((await stack.api.executions.get.query({ id: debugId })).execution.debugOf).toEqual({
      executionId: id,
      nodeId: "n0",
    });
    await ideLink(page).waitFor({ timeout: 120_000 });
    // Abort it from the execution header, confirming.
    await page.getByRole("button", { name: "Abort" }).click();
    await page.getByRole("dialog").getByRole("button", { name: /abort/i }).click();
    await page
      .getByTestId("execution-status")
      .and(page.locator('[data-status="ABORTED"]'))
      .waitFor({ timeout: 30_000 });
    await noCodeServerLeft();
    await fresh.close();
  });

  it("shows a countdown that Keep alive moves, then the end of a session nobody opened, with its reason", async () => {
    const id = await launchRemote(fixture("console.ts"), "idle_console");
    const page = await newConsolePage();
    await openExecution(page, id, "n0");
    const countdown = pane(page).getByTestId("idle-countdown");
    await countdown.waitFor({ timeout: 60_000 });
    await expect.poll(() => countdown.textContent()).toMatch(/\d+\s*s/);
    const before = Date.parse((await countdown.getAttribute("data-deadline")) ?? "");
    await page.waitForTimeout(2_000);
    await pane(page).getByRole("button", { name: "Keep alive" }).click();
    await expect
      .poll(async () => Date.parse((await countdown.getAttribute("data-deadline")) ?? ""), {
        timeout: 10_000,
      })
      .toBeGreaterThan(before + 1_500);
    const session = (await stack.api.executions.get.query({ id })).nodes[0]?.attempts.at(
      -1,
    )?.session;
    expect(Date.parse(session?.idleDeadline ?? "")).toBeGreaterThan(before + 1_500);

    // Nobody opens the IDE: the unopened limit applies (the countdown says so), it ends, and the pane says why.
    expect(await countdown.getAttribute("data-limit")).toBe("unopened");
    await expect.poll(() => countdown.textContent()).toMatch(/unless opened/);
    await pane(page).locator('[data-status="FAILED"]').first().waitFor({ timeout: 60_000 });
    await pane(page)
      .getByTestId("node-error")
      .getByText(/without being opened/)
      .waitFor();
    await pane(page)
      .getByText(/unopened/i)
      .first()
      .waitFor();
    expect(await countdown.count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, "execution-idle.png"), fullPage: true });
    await noCodeServerLeft();
  });

  it("runTaskFirst: the failed first run's error and stack are in the pane, the IDE link appears, and Resume (confirmed) re-runs the task", async () => {
    const id = await launchRemote(
      example("interactive/run-task-first/workflow.ts"),
      "interactive_run_task_first",
      ["--name", " "],
    );
    const page = await newConsolePage();
    await openExecution(page, id, "n0");
    await ideLink(page).waitFor({ timeout: 120_000 });
    const firstRun = pane(page).getByText("say_hello needs a name, not a blank").first();
    await firstRun.waitFor();
    expect(
      await pane(page)
        .locator("pre", { hasText: /workflow\.ts:\d+/ })
        .count(),
    ).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, "execution-run-task-first.png"), fullPage: true });

    // Resume from the pane, confirming: the unedited task runs again on the same blank name and fails for real.
    await pane(page).getByRole("button", { name: "Resume", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Resume task" }).click();
    await page
      .getByTestId("execution-status")
      .and(page.locator('[data-status="FAILED"]'))
      .waitFor({ timeout: 60_000 });
    await pane(page).getByText("Session ended: resumed").waitFor();
    await pane(page)
      .getByTestId("node-error")
      .getByText("say_hello needs a name, not a blank", { exact: true })
      .waitFor();
    expect(await ideLink(page).count()).toBe(0);
    await noCodeServerLeft();
  });

  it("refuses invalid launch input in the form, naming the field, and starts nothing", async () => {
    const registered = await drydock(["register", example("pipeline/workflow.ts")], stack.env);
    expect(registered.code, registered.stderr).toBe(0);
    const before = await stack.api.executions.list.query({ project: "default", limit: 500 });
    const page = await newConsolePage();
    await page.goto(`${stack.url}/workflows/pipeline`);
    const count = page.getByLabel("count", { exact: true });
    await count.fill("-3");
    await page.getByRole("button", { name: "Launch" }).click();
    await page.locator(".field-error").first().waitFor();
    expect(await page.locator(".field-error").first().textContent()).toMatch(/count/);
    // Still on the form (the console keeps the project it shows in the query).
    expect(new URL(page.url()).pathname).toBe("/workflows/pipeline");
    expect(await stack.api.executions.list.query({ project: "default", limit: 500 })).toHaveLength(
      before.length,
    );
  });

  it("is usable on a narrow window and from the keyboard: no sideways scrolling, nodes open their pane with Enter, Escape closes it", async () => {
    const id = await launchRemote(example("pipeline/workflow.ts"), "pipeline", [
      "--count",
      "3",
      "--wait",
    ]);
    const page = await newConsolePage();
    await page.setViewportSize({ width: 400, height: 800 });
    for (const path of ["/executions", "/workflows", "/workflows/pipeline", `/executions/${id}`]) {
      await page.goto(`${stack.url}${path}`);
      await page.locator("main h1, main h2, [data-testid=execution-status]").first().waitFor();
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth,
      );
      expect(overflow, `${path} scrolls sideways by ${overflow}px at 400 px`).toBeLessThanOrEqual(
        0,
      );
    }
    await page.screenshot({ path: join(SHOTS, "execution-narrow.png"), fullPage: true });

    await page.setViewportSize({ width: 1280, height: 800 });
    const node = page.getByTestId("dag-node-n0");
    await node.focus();
    await page.keyboard.press("Enter");
    await pane(page).waitFor();
    expect(new URL(page.url()).searchParams.get("node")).toBe("n0");
    await expect.poll(() => pane(page).getByTestId("node-outputs").textContent()).toContain("1");
    await page.keyboard.press("Escape");
    await pane(page).waitFor({ state: "detached" });
  });

  it("lists executions filtered by status and workflow, and shows a new one as it starts and ends, without reloading", async () => {
    const page = await newConsolePage();
    await page.goto(`${stack.url}/executions?status=SUCCEEDED&workflow=pipeline`);
    const rows = page.locator("table.list tbody tr");
    await rows.first().waitFor();
    const shown = await rows.count();
    for (const status of await rows
      .locator("[data-status]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-status"))))
      expect(status).toBe("SUCCEEDED");
    expect(await rows.filter({ hasText: "wf" }).count()).toBe(0);

    await page.getByLabel("Status").selectOption({ label: "All" });
    await page.getByLabel("Workflow").selectOption({ label: "All" });
    await expect
      .poll(() => [...new URL(page.url()).searchParams.keys()].filter((k) => k !== "project"))
      .toEqual([]);
    const id = await launchRemote(example("pipeline/workflow.ts"), "pipeline", ["--count", "2"]);
    await rows
      .filter({ hasText: id })
      .locator('[data-status="RUNNING"], [data-status="SUCCEEDED"]')
      .first()
      .waitFor({ timeout: 30_000 });
    await rows
      .filter({ hasText: id })
      .locator('[data-status="SUCCEEDED"]')
      .waitFor({ timeout: 60_000 });
    await page.goto(`${stack.url}/executions?status=SUCCEEDED&workflow=pipeline`);
    await expect.poll(() => rows.count()).toBe(shown + 1);
  });

  it("logged no errors in the browser's console on any of its pages", () => {
    expect(consoleErrors).toEqual([]);
  });
});

describe("pnpm start (drydock up --launch)", () => {
  it("launches the hello example and prints a console link that signs in on the interactive task's pane, where VSCode (User) appears", async () => {
    const launched = await startStack({ args: ["--launch", `${example("hello/workflow.ts")}:wf`] });
    const own = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const printed = await waitFor(
        "the console link",
        async () => launched.output().match(/open it in the console: (\S+)/)?.[1],
        60_000,
      );
      expect(printed).not.toContain(launched.token);
      const id = /execution (x[a-z0-9]+)/.exec(launched.output())?.[1] ?? "";
      expect(id).not.toBe("");

      // Signed in with the one-time link printed above it, the launch's link opens the pane of the task.
      const page = await own.newPage();
      await page.goto(printedSignInLink(launched.output()) ?? "");
      await page.goto(printed);
      await page.waitForURL((url) => url.pathname === `/executions/${id}`);
      expect(new URL(page.url()).searchParams.get("node")).toBe("n0");
      await page
        .getByTestId("task-pane")
        .getByRole("link", { name: "VSCode (User)" })
        .waitFor({ timeout: 120_000 });
      expect(page.url()).not.toContain(launched.token);
      await launched.api.sessions.resume.mutate({ executionId: id, nodeId: "n0" });
      await page
        .getByTestId("execution-status")
        .and(page.locator('[data-status="SUCCEEDED"]'))
        .waitFor({ timeout: 60_000 });
      await page.getByTestId("node-outputs").getByText("Hello, world!").waitFor();
    } finally {
      await own.close();
      await removeStack(launched);
    }
    await noCodeServerLeft();
  });
});
