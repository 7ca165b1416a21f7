import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink } from "@trpc/client";
import { chromium } from "playwright-core";
import type { Browser } from "playwright-core";
import { z } from "zod";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(ROOT, "apps/cli/dist/cli.js");
export const example = (path: string) => join(ROOT, "examples", path);
export const fixture = (path: string) => join(ROOT, "e2e/fixtures", path);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, collecting its output; killed (and rejected) after `timeoutMs`. */
export function runProcess(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} timed out\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs the real `drydock` CLI as a separate process (from `cwd`, the repository's root unless given). */
export function drydock(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
  cwd = ROOT,
): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], {
    cwd,
    env: { CI: "true", ...env },
    timeoutMs,
  });
}

export interface Stack {
  url: string;
  /** The long-lived local admin token, read from `<home>/context.json`. */
  token: string;
  dataDir: string;
  home: string;
  env: Record<string, string>;
  process: ChildProcess;
  output(): string;
  api: ApiClient;
  /** SIGTERM, waiting for everything `drydock up` started to stop. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** `drydock up` in a temp data dir, as a user would start it; resolves once it prints its URLs. */
export async function startStack(
  options: {
    dataDir?: string;
    home?: string;
    port?: number;
    env?: Record<string, string>;
    args?: string[];
  } = {},
): Promise<Stack> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "drydock-e2e-data-")));
  const home = options.home ?? (await mkdtemp(join(tmpdir(), "drydock-e2e-home-")));
  const env = { DRYDOCK_HOME: home, DRYDOCK_LOG_LEVEL: "warn", CI: "true", ...options.env };
  const child = spawn(
    process.execPath,
    [
      CLI,
      "up",
      "--port",
      String(options.port ?? 0),
      "--data-dir",
      dataDir,
      ...(options.args ?? []),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const started = new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`drydock up did not start:\n${out}`)), 60_000);
    const check = () => {
      const match = out.match(/api:\s+(http:\/\/[^\s]+)\/trpc/);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout.on("data", check);
    child.on("exit", (code) => reject(new Error(`drydock up exited with ${code}:\n${out}`)));
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let url: string, token: string;
  try {
    url = await started;
    token = await savedToken(home);
  } catch (error) {
    // Nothing of a failed start is left behind: the process, and the folders made here for it.
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    if (!options.home) await rm(home, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    token,
    dataDir,
    home,
    env,
    process: child,
    output: () => out,
    api: apiClient(url, { authorization: `Bearer ${token}` }),
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A typed API client of the server at `url`, sending `headers` (a bearer credential or a console cookie). */
export function apiClient(url: string, headers: Record<string, string>): ApiClient {
  return createTRPCClient<AppRouter>({ links: [httpLink({ url: `${url}/trpc`, headers })] });
}

export type ApiClient = ReturnType<typeof createTRPCClient<AppRouter>>;

const SavedContextSchema = z.object({ token: z.string().min(1) });

/**
 * The long-lived token `drydock up` keeps in `<home>/context.json` (0600): it never prints it, and no URL holds
 * it, so this is where a test (like the CLI) finds it.
 */
async function savedToken(home: string): Promise<string> {
  const file = join(home, "context.json");
  const parsed = SavedContextSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
  if (!parsed.success) throw new Error(`${file} holds no token: ${parsed.error.message}`);
  return parsed.data.token;
}

export async function removeStack(stack: Stack): Promise<void> {
  await stack.stop();
  await rm(stack.dataDir, { recursive: true, force: true });
  await rm(stack.home, { recursive: true, force: true });
}

/**
 * A test file's afterAll: closes its browser, aborts its execution (which may have ended already) and removes its
 * stack, each only if beforeAll got as far as starting it.
 */
export async function tearDown(started: {
  browser?: Browser;
  executionId?: string;
  stack?: Stack;
}): Promise<void> {
  await started.browser?.close();
  if (started.executionId)
    await started.stack?.api.executions.abort
      .mutate({ id: started.executionId })
      .catch(() => undefined);
  if (started.stack) await removeStack(started.stack);
}

/** Command lines of every live process, from /proc. */
export async function processTable(): Promise<{ pid: number; cmdline: string }[]> {
  const rows: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline) rows.push({ pid: Number(entry), cmdline: cmdline.split("\0").join(" ").trim() });
  }
  return rows;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The execution's detail once it has ended (SUCCEEDED, FAILED, ABORTED or TIMED_OUT). */
export function executionEnd(api: ApiClient, id: string, timeoutMs = 180_000) {
  return waitFor(
    `execution ${id} to end`,
    async () => {
      const detail = await api.executions.get.query({ id });
      return ["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"].includes(detail.execution.status)
        ? detail
        : undefined;
    },
    timeoutMs,
  );
}

/** A TCP port free on loopback now (for a server this test cannot start on port 0 itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/**
 * Debian's Chromium, headless, with the flags this machine needs (no sandbox, no GPU, no background traffic), and
 * `args` (e.g. `--host-resolver-rules` for a stack on another address).
 */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      ...args,
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
