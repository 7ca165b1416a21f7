/**
 * Time to IDE: for each of RUNS interactive executions of examples/interactive/basic, the time from
 * the attempt's start to its session READY (the link shows), and from opening the link in Chromium to the
 * workbench appearing through the relay, then to the explorer listing the task's source (usable). The stack
 * is `drydock up` as a user starts it.
 * Cold first use: `drydock up` starts with an empty IDE directory, so it installs the IDE runtime (code-server
 * on its own Node, from the registry) at start-up; the install's time and steps are reported. The executions
 * start once it is done: an install beside them (a compiler on both cores) would be measured with them. The
 * first run (the stack's first session) is reported apart, the later ones are warm. COLD=0 uses the machine's
 * installed runtime instead (a quicker look, with RUNS=3).
 * Run: pnpm --filter @drydock/agent bench
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink } from "@trpc/client";
import { chromium } from "playwright-core";

import { findCodeServer, startCodeServer } from "../src/ide/code-server.js";
import { defaultIdeDir } from "../src/ide/runtime.js";
import { USER_SETTINGS } from "../src/ide/workspace.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = join(root, "apps/cli/dist/cli.js");
const runs = Number(process.env.RUNS ?? 5);
const POLL_MS = 10;

const cold = process.env.COLD !== "0";
/** The line `drydock up` prints when the install is done. */
const INSTALLED = /^code-server [\d.]+ installed in \d+ s/;

const dataDir = await mkdtemp(join(tmpdir(), "drydock-bench-ide-"));
const home = await mkdtemp(join(tmpdir(), "drydock-bench-home-"));
const ideDir = cold ? join(dataDir, "ide") : defaultIdeDir(process.env);
const env = {
  ...process.env,
  DRYDOCK_HOME: home,
  DRYDOCK_LOG_LEVEL: "warn",
  CI: "true",
  DRYDOCK_IDE_DIR: ideDir,
};
const upStarted = Date.now();
const up = spawn(process.execPath, [cli, "up", "--port", "0", "--data-dir", dataDir], {
  env,
  stdio: ["ignore", "pipe", "pipe"],
});
let upOutput = "";
/** When each line of `drydock up`'s output arrived: the install's steps are timed from them. */
const upLines: { at: number; line: string }[] = [];
/** Output is cut into lines where they end, not where a chunk of the pipe does. */
const lineReader = () => {
  let pending = "";
  return (d: Buffer) => {
    upOutput += d.toString();
    const lines = (pending + d.toString()).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) upLines.push({ at: Date.now(), line });
  };
};
up.stdout.on("data", lineReader());
up.stderr.on("data", lineReader());
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

try {
  const url = await until(
    "drydock up to print its URL",
    60_000,
    async () => /api:\s+(http:\/\/\S+)\/trpc/.exec(upOutput)?.[1],
  );
  // `drydock up` prints no token: it keeps it in its context file (0600), where the CLI finds it too.
  const saved = JSON.parse(await readFile(join(home, "context.json"), "utf8")) as {
    token?: string;
  };
  if (!saved.token) throw new Error(`drydock up saved no credential in ${home}/context.json`);
  const token = saved.token;
  const api = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });
  const rows: { toReady: number; queuedToReady: number; toWorkbench: number; toUsable: number }[] =
    [];
  if (cold)
    await until("drydock up to install the IDE runtime", 20 * 60_000, async () => {
      if (upOutput.includes("IDE runtime: cannot install"))
        throw new Error(`drydock up could not install the IDE runtime:\n${upOutput}`);
      return upLines.some((l) => INSTALLED.test(l.line)) || undefined;
    });

  for (let i = 0; i < runs; i++) {
    const launched = await promisify(execFile)(
      process.execPath,
      [
        cli,
        "run",
        "--remote",
        join(root, "examples/interactive/basic/workflow.ts"),
        "interactive_basic",
        "--name",
        `bench-${i}`,
        "--endpoint",
        url,
        "--token",
        token,
        "--output",
        "json",
      ],
      { encoding: "utf8", env },
    );
    const { id } = JSON.parse(launched.stdout) as { id: string };
    const ready = await until(`execution ${id} to have a READY session`, 120_000, async () => {
      const { execution, nodes } = await api.executions.get.query({ id });
      if (execution.status !== "RUNNING")
        throw new Error(`execution ${id} ended ${execution.status}: ${execution.error?.message}`);
      const attempt = nodes[0]?.attempts.at(-1);
      return attempt?.session?.state === "READY" && attempt.startedAt
        ? { seen: Date.now(), attempt, session: attempt.session }
        : undefined;
    });
    const toReady = ready.seen - Date.parse(ready.attempt.startedAt ?? "");
    const queuedToReady = ready.seen - Date.parse(ready.attempt.createdAt);

    const ticket = await api.sessions.ideTicket.mutate({ sessionId: ready.session.id });
    const context = await browser.newContext();
    const page = await context.newPage();
    const clicked = Date.now();
    await page.goto(ticket.url);
    await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });
    const toWorkbench = Date.now() - clicked;
    await page.waitForSelector(".explorer-folders-view >> text=workflow.ts", { timeout: 60_000 });
    const toUsable = Date.now() - clicked;
    await context.close();
    rows.push({ toReady, queuedToReady, toWorkbench, toUsable });
    console.log(
      `  run ${i + 1}: attempt start → READY ${ms(toReady)} (queued → READY ${ms(queuedToReady)}); ` +
        `link → workbench ${ms(toWorkbench)}, → explorer shows the source ${ms(toUsable)}`,
    );

    await api.sessions.resume.mutate({ executionId: id, nodeId: "n0" });
    await until(`execution ${id} to succeed`, 60_000, async () => {
      const { execution } = await api.executions.get.query({ id });
      if (execution.status === "RUNNING") return undefined;
      if (execution.status !== "SUCCEEDED")
        throw new Error(`execution ${id} ended ${execution.status}: ${execution.error?.message}`);
      return true;
    });
  }

  // The same workbench straight from a code-server on loopback, no relay: what the browser and code-server
  // themselves cost here, so the relay's share of the figure above is visible.
  const direct: number[] = [];
  const scratch = await mkdtemp(join(tmpdir(), "drydock-bench-direct-"));
  try {
    await writeFile(join(scratch, "workflow.ts"), "export {};\n");
    const port = await freePort();
    const ide = await startCodeServer({
      // Attempts run as their own users and install no runtime where the bench can see it: use the one
      // `drydock up` installed, else this machine's usual one.
      bin: await findCodeServer({ ideDir }).catch(() =>
        findCodeServer({ ideDir: defaultIdeDir({ ...process.env, DRYDOCK_IDE_DIR: undefined }) }),
      ),
      listen: { host: "127.0.0.1", port },
      workspace: scratch,
      profileDir: join(scratch, "profile"),
      env: { PATH: process.env.PATH, TMPDIR: scratch },
      userSettings: USER_SETTINGS,
    });
    try {
      for (let i = 0; i < Math.max(2, runs - 1); i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        const clicked = Date.now();
        await page.goto(`http://127.0.0.1:${port}/`);
        await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });
        direct.push(Date.now() - clicked);
        await context.close();
      }
    } finally {
      await ide.stop();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  const warm = rows.length > 1 ? rows.slice(1) : rows;
  const median = (key: keyof (typeof rows)[number]) => {
    const sorted = warm.map((r) => r[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? NaN;
  };
  if (cold) {
    const installed = upLines.find((l) => INSTALLED.test(l.line));
    const first = rows[0];
    console.log(
      `cold first use (empty IDE directory; npm's own download cache as this machine has it):`,
    );
    console.log(
      `  drydock up start → IDE runtime installed: ${ms((installed?.at ?? NaN) - upStarted)}`,
    );
    // Each step prints a line when it is done, with its time. apt-get's lasts until the next step starts.
    const byStep = new Map<string, number>();
    upLines.forEach((l, i) => {
      const done = /^code-server install: (.+): done in ([\d.]+) s$/.exec(l.line);
      if (done)
        byStep.set(done[1] ?? "?", (byStep.get(done[1] ?? "?") ?? 0) + Number(done[2]) * 1000);
      if (l.line.startsWith("installing what")) {
        const next = upLines.slice(i + 1).find((n) => n.line.startsWith("code-server install: "));
        byStep.set("build tools (apt-get)", (next?.at ?? NaN) - l.at);
      }
    });
    for (const [name, spent] of byStep) console.log(`    ${name}: ${ms(spent)}`);
    if (byStep.has("sqlite3"))
      console.log("    (sqlite3 builds beside the other native modules and the extensions)");
    console.log(
      `  first execution: attempt queued → session READY ${ms(first?.queuedToReady ?? NaN)} (the stack's first session, once installed), link → workbench ${ms(first?.toWorkbench ?? NaN)}`,
    );
  }
  console.log(
    `time to IDE: ${runs} interactive executions, local-process executor, relay in \`drydock up\`; warm: the IDE runtime installed`,
  );
  console.log(
    `  attempt start → session READY (warm): median ${ms(median("toReady"))} (goal ≤ 2 s)   [first run ${ms(rows[0]?.toReady ?? NaN)}]`,
  );
  console.log(
    `  attempt queued → session READY: median ${ms(median("queuedToReady"))} (includes starting the agent process)`,
  );
  console.log(
    `  link → workbench through the relay (warm): median ${ms(median("toWorkbench"))} (goal ≤ 5 s)   [first run ${ms(rows[0]?.toWorkbench ?? NaN)}]`,
  );
  console.log(`  link → explorer lists the task's source: median ${ms(median("toUsable"))}`);
  const sortedDirect = [...direct].sort((a, b) => a - b);
  console.log(
    `  for comparison, the workbench straight from code-server on loopback (no relay, no ticket): median ${ms(sortedDirect[Math.floor(sortedDirect.length / 2)] ?? NaN)}`,
  );
} finally {
  await browser.close();
  const exited = new Promise((r) => up.once("exit", r));
  if (up.exitCode === null) up.kill("SIGTERM");
  await exited;
  await rm(dataDir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
}

function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  return new Promise((resolve, reject) => {
    probe.once("error", reject);
    probe.once("listening", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function ms(value: number): string {
  return `${(value / 1000).toFixed(2)} s`;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${upOutput}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
