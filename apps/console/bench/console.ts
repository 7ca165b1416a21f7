/**
 * The console's numbers: the initial JavaScript, gzipped (goal ≤ 250 KB), the execution page's own work on a
 * 1,000-node DAG in process (bench/execution-view.ts), and the time an execution of 1,000 nodes takes to
 * render (goal ≤ 1 s), measured in real Chromium against a real stack.
 *
 *   pnpm --filter @drydock/console bench
 *
 * Builds the console first (vite), starts `drydock up` on port 0 in temp dirs, runs examples/wide (999
 * parallel tasks feeding one) to the end, then opens its execution page five times and reads the page's
 * own marks: `drydock:snapshot` (the watch snapshot arrived) and `drydock:dag-rendered` (every node in
 * view drawn and painted). Everything it started is stopped and its temp dirs removed, whatever happens.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import type { Browser } from "playwright-core";
import { chromium } from "playwright-core";

import { measureExecutionView } from "./execution-view.js";

const CONSOLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ROOT = resolve(CONSOLE_DIR, "../..");
const DIST = join(CONSOLE_DIR, "dist");
const CLI = join(ROOT, "apps/cli/dist/cli.js");
const WIDE = join(ROOT, "examples/wide/workflow.ts");

const JS_GOAL_KB = 250;
const RENDER_GOAL_MS = 1_000;
const RUNS = 5;
const DAG_NODES = 1_000;
const VIEWPORT = { width: 1280, height: 800 };
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---- 1. initial JavaScript ----------------------------------------------------------------------------

async function buildConsole(): Promise<void> {
  const { build } = await import("vite");
  process.stdout.write("building the console (vite build)…\n");
  await build({ root: CONSOLE_DIR, logLevel: "warn" });
}

/** The entry script and every modulepreload of dist/index.html: what a browser fetches before the app starts. */
async function initialScripts(): Promise<string[]> {
  const html = await readFile(join(DIST, "index.html"), "utf8");
  const files: string[] = [];
  for (const tag of html.match(/<script\b[^>]*>/g) ?? []) {
    if (!/type=["']?module/.test(tag)) continue;
    const src = /src=["']([^"']+)["']/.exec(tag)?.[1];
    if (src) files.push(src);
  }
  for (const tag of html.match(/<link\b[^>]*>/g) ?? []) {
    if (!/rel=["']?modulepreload/.test(tag)) continue;
    const href = /href=["']([^"']+)["']/.exec(tag)?.[1];
    if (href) files.push(href);
  }
  if (files.length === 0) throw new Error("dist/index.html has no module script");
  return files;
}

async function measureInitialJs(): Promise<boolean> {
  const files = await initialScripts();
  let total = 0;
  process.stdout.write("\nInitial JavaScript (gzip level 9):\n");
  for (const file of files) {
    const bytes = gzipSync(await readFile(join(DIST, file.replace(/^\//, ""))), {
      level: 9,
    }).length;
    total += bytes;
    process.stdout.write(`  ${file.padEnd(44)} ${kb(bytes).padStart(10)}\n`);
  }
  const ok = total <= JS_GOAL_KB * 1024;
  process.stdout.write(
    `  ${"total".padEnd(44)} ${kb(total).padStart(10)}   goal ≤ ${JS_GOAL_KB} KB   ${verdict(ok)}\n`,
  );
  return ok;
}

// ---- 2. rendering 1,000 nodes ---------------------------------------------------------------------------

interface Stack {
  url: string;
  /** The credential `drydock up` saved for the CLI (never printed). */
  token: string;
  /** The one-time console sign-in link `drydock up` printed. */
  signInLink: string;
  child: ChildProcess;
  output: () => string;
}

async function startStack(dataDir: string, home: string): Promise<Stack> {
  const child = spawn(process.execPath, [CLI, "up", "--port", "0", "--data-dir", dataDir], {
    cwd: ROOT,
    env: { ...process.env, DRYDOCK_HOME: home, DRYDOCK_LOG_LEVEL: "warn", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`drydock up did not start within 60 s:\n${out}`)),
      60_000,
    );
    const check = () => {
      const match = /api:\s+(http:\/\/[^\s]+)\/trpc/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`drydock up exited with ${code}:\n${out}`));
    });
  });
  const signInLink = /console:\s+(\S+)/.exec(out)?.[1];
  if (!signInLink) throw new Error(`drydock up printed no sign-in link:\n${out}`);
  const saved = JSON.parse(await readFile(join(home, "context.json"), "utf8")) as {
    token?: string;
  };
  if (!saved.token) throw new Error(`drydock up saved no credential in ${home}/context.json`);
  return { url, token: saved.token, signInLink, child, output: () => out };
}

async function stopStack(stack: Stack): Promise<void> {
  const { child } = stack;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

/** `drydock run --remote … --wait`: resolves with the execution id once it SUCCEEDED. */
async function runWide(stack: Stack, home: string): Promise<string> {
  const args = [
    CLI,
    "run",
    "--remote",
    WIDE,
    "wide",
    "--endpoint",
    stack.url,
    "--token",
    stack.token,
    "--wait",
    "--output",
    "json",
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DRYDOCK_HOME: home, DRYDOCK_LOG_LEVEL: "warn", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolveCode) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10 * 60_000);
    child.once("exit", (c) => {
      clearTimeout(timer);
      resolveCode(c);
    });
  });
  const id = /execution (\S+) started/.exec(stderr)?.[1];
  if (code !== 0 || !id)
    throw new Error(
      `drydock run wide did not succeed (exit ${code}):\n${stdout}\n${stderr.slice(-4_000)}`,
    );
  return id;
}

interface RenderRun {
  rendered: number;
  snapshot: number;
  drawn: number;
}

async function measureRender(
  browser: Browser,
  stack: Stack,
  executionId: string,
): Promise<boolean> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning")
      problems.push(`console ${message.type()}: ${message.text()}`);
  });

  await page.goto(stack.signInLink);
  await page.waitForSelector(".topbar", { timeout: 30_000 });
  const linkQuery = new URL(stack.signInLink).search;
  if (linkQuery && page.url().includes(linkQuery))
    throw new Error(`the sign-in link did not redirect: still at ${page.url()}`);

  const runs: RenderRun[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    await page.goto(`${stack.url}/executions/${executionId}`, { waitUntil: "commit" });
    await page.waitForFunction(
      () => performance.getEntriesByName("drydock:dag-rendered").length > 0,
      undefined,
      { timeout: 30_000 },
    );
    const run = await page.evaluate(() => ({
      rendered: performance.getEntriesByName("drydock:dag-rendered")[0]?.startTime ?? Number.NaN,
      snapshot: performance.getEntriesByName("drydock:snapshot")[0]?.startTime ?? Number.NaN,
      drawn: document.querySelectorAll('[data-testid^="dag-node-"][data-status="SUCCEEDED"]')
        .length,
    }));
    if (run.drawn !== DAG_NODES)
      throw new Error(`run ${i + 1}: the DAG drew ${run.drawn} SUCCEEDED nodes, not ${DAG_NODES}`);
    runs.push(run);
    process.stdout.write(
      `  run ${i + 1}: navigation → DAG drawn ${run.rendered.toFixed(0)} ms (snapshot at ${run.snapshot.toFixed(0)} ms, then ${(run.rendered - run.snapshot).toFixed(0)} ms)\n`,
    );
  }
  await context.close();
  if (problems.length > 0)
    throw new Error(`the page reported problems:\n  ${problems.join("\n  ")}`);

  const total = runs.map((r) => r.rendered);
  const after = runs.map((r) => r.rendered - r.snapshot);
  const ok = median(total) <= RENDER_GOAL_MS;
  const fmt = (values: number[]) =>
    `median ${median(values).toFixed(0)} ms (min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)})`;
  process.stdout.write(
    `  navigation → DAG drawn: ${fmt(total)}   goal ≤ ${RENDER_GOAL_MS} ms   ${verdict(ok)}\n`,
  );
  process.stdout.write(`  snapshot → DAG drawn:   ${fmt(after)}\n`);
  return ok;
}

async function main(): Promise<void> {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: build the SDK first (pnpm --filter @drydock/sdk build)`);
  await buildConsole();
  const jsOk = await measureInitialJs();
  const viewOk = measureExecutionView();

  const dataDir = await mkdtemp(join(tmpdir(), "drydock-bench-console-data-"));
  const home = await mkdtemp(join(tmpdir(), "drydock-bench-console-home-"));
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  try {
    stack = await startStack(dataDir, home);
    process.stdout.write(
      `\nExecution of ${DAG_NODES} nodes: running examples/wide on ${stack.url}…\n`,
    );
    const started = Date.now();
    const executionId = await runWide(stack, home);
    process.stdout.write(
      `  execution ${executionId} SUCCEEDED in ${((Date.now() - started) / 1_000).toFixed(1)} s\n`,
    );
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
    process.stdout.write(
      `  Chromium ${browser.version()}, ${VIEWPORT.width}×${VIEWPORT.height}, ${RUNS} page loads:\n`,
    );
    const renderOk = await measureRender(browser, stack, executionId);
    process.stdout.write(
      `\n${verdict(jsOk)} initial JavaScript; ${verdict(viewOk)} layout and live updates; ${verdict(renderOk)} render of ${DAG_NODES} nodes\n`,
    );
  } catch (error) {
    if (stack)
      process.stderr.write(`\n--- drydock up output ---\n${stack.output().slice(-4_000)}\n`);
    throw error;
  } finally {
    await browser?.close();
    if (stack) await stopStack(stack);
    await rm(dataDir, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
