/**
 * Post-mortem debugging's price, on a `drydock up` stack as a user starts it, with this machine's installed IDE
 * runtime (as time-to-ide.ts with COLD=0):
 * - overhead: a 1,000-iteration CPU loop (fixtures/post-mortem.ts) registered as a plain task and under
 *   `vscode({ onFailure: "pause" })`, RUNS `run --remote` executions of each, interleaved, after one warm-up
 *   pair that is not counted (the first attempt extracts the bundle). Per run: the attempt's wall time as the
 *   server recorded it, from its creation (queued, before its agent's process starts: a task that may pause
 *   has its own process started beside the agent's) to its end, and from the agent's `started` to its end;
 *   and the task body's own time (its output). The goal, within 5 %, is on the wall time from creation.
 * - throw → READY: a `vscode({ onFailure: "pause" })` task that throws at once; per run the time from the
 *   throw (the task logs Date.now() just before it) to the session READY, then it is ended as failed.
 * Run: pnpm --filter @drydock/agent bench (after time-to-ide), or `node --import tsx bench/post-mortem.ts`.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import type { Attempt, ExecutionDetail } from "@drydock/contracts";
import { describePause, RESUME_FAIL_CODE } from "@drydock/contracts";
import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink } from "@trpc/client";

import { defaultIdeDir } from "../src/ide/runtime.js";
import { hashLoop } from "./fixtures/post-mortem.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const cli = join(root, "apps/cli/dist/cli.js");
const fixture = join(here, "fixtures/post-mortem.ts");
const runs = Number(process.env.RUNS ?? 5);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`RUNS must be a whole number of at least 1, got ${process.env.RUNS}`);
const ITERATIONS = 1_000;
/** One run of the loop here: long enough that the cost of starting a process would show. */
const TARGET_BODY_MS = 4_000;
const GOAL = 0.05;
const POLL_MS = 10;
/** While an execution runs the CPU loop, poll rarely: a busy poll would take the loop's CPU. */
const SLOW_POLL_MS = 250;

type Api = ReturnType<typeof createTRPCClient<AppRouter>>;
interface LoopRun {
  /** The attempt created → ended: its agent's start included. */
  wallMs: number;
  /** The attempt's agent `started` → ended. */
  startedMs: number;
  bodyMs: number;
  digest: string;
  /** The program whose process ran the task: the agent's, or the paused-task runner's. */
  program: string;
}
interface ThrowRun {
  toReady: number;
  toPaused: number;
  toSession: number;
  pauseLine: string;
}

// Sized before the stack starts: measured while it starts, the loop would be sized short.
const bytes = bytesForTarget();
const dataDir = await mkdtemp(join(tmpdir(), "drydock-bench-pm-"));
const home = await mkdtemp(join(tmpdir(), "drydock-bench-pm-home-"));
const env = {
  ...process.env,
  DRYDOCK_HOME: home,
  DRYDOCK_LOG_LEVEL: "warn",
  CI: "true",
  DRYDOCK_IDE_DIR: defaultIdeDir(process.env),
};
const up = spawn(process.execPath, [cli, "up", "--port", "0", "--data-dir", dataDir], {
  env,
  stdio: ["ignore", "pipe", "pipe"],
});
let upOutput = "";
up.stdout.on("data", (d: Buffer) => (upOutput += d.toString()));
up.stderr.on("data", (d: Buffer) => (upOutput += d.toString()));

try {
  const url = await until(
    "drydock up to print its URL",
    60_000,
    POLL_MS,
    async () => /api:\s+(http:\/\/\S+)\/trpc/.exec(upOutput)?.[1],
  );
  const saved = JSON.parse(await readFile(join(home, "context.json"), "utf8")) as {
    token?: string;
  };
  if (!saved.token) throw new Error(`drydock up saved no credential in ${home}/context.json`);
  const token = saved.token;
  const api: Api = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { authorization: `Bearer ${token}` } })],
  });
  const launch = async (workflow: string, inputs: string[]): Promise<string> => {
    const launched = await promisify(execFile)(
      process.execPath,
      [
        cli,
        "run",
        "--remote",
        fixture,
        workflow,
        ...inputs,
        "--endpoint",
        url,
        "--token",
        token,
        "--output",
        "json",
      ],
      { encoding: "utf8", env },
    );
    return (JSON.parse(launched.stdout) as { id: string }).id;
  };

  const load = loadavg()[0] ?? NaN;
  console.log(
    `post-mortem overhead: ${runs} executions each of a ${ITERATIONS.toLocaleString("en")}-iteration sha256 loop ` +
      `over ${(bytes / 2 ** 20).toFixed(2)} MiB (sized for ~${ms(TARGET_BODY_MS)} here), plain and ` +
      `vscode({ onFailure: "pause" }) interleaved after one warm-up pair; local-process executor in ` +
      `\`drydock up\`; load average ${load.toFixed(2)} on ${cpus().length} cores at the start`,
  );
  const loopInputs = ["--iterations", String(ITERATIONS), "--bytes", String(bytes)];
  const loop = (workflow: string) => runLoop(api, workflow, () => launch(workflow, loopInputs));
  const warm = [await loop("bench_plain_loop"), await loop("bench_pause_loop")] as const;
  // Were the two the same, the agent would have run the pause variant as a plain task: nothing measured.
  if (warm[0].program === warm[1].program)
    throw new Error(`both variants ran in ${warm[0].program}: the pause variant did not run apart`);
  console.log(
    `  the plain task ran in ${warm[0].program}, the pause variant in ${warm[1].program}`,
  );
  const plain: LoopRun[] = [];
  const paused: LoopRun[] = [];
  for (let i = 0; i < runs; i++) {
    plain.push(await loop("bench_plain_loop"));
    paused.push(await loop("bench_pause_loop"));
    const [p, q] = [plain[i], paused[i]];
    if (!p || !q) continue;
    if (p.digest !== q.digest)
      throw new Error(`the two tasks did different work: digests ${p.digest} and ${q.digest}`);
    console.log(
      `  run ${i + 1}: plain attempt ${ms(p.wallMs)} (body ${ms(p.bodyMs)}); ` +
        `pause attempt ${ms(q.wallMs)} (body ${ms(q.bodyMs)})`,
    );
  }
  const medians = (figure: (r: LoopRun) => number) =>
    [median(plain.map(figure)), median(paused.map(figure))] as const;
  const wall = medians((r) => r.wallMs);
  const body = medians((r) => r.bodyMs);
  const row = (label: string, [a, b]: readonly [number, number], ratio: boolean) =>
    console.log(
      `  ${label.padEnd(52)}${ms(a).padStart(9)}${ms(b).padStart(9)}  ${ratio ? (b / a).toFixed(3) : ""}`,
    );
  console.log(`  ${"median".padEnd(52)}${"plain".padStart(9)}${"pause".padStart(9)}  pause/plain`);
  row("attempt wall time (created → ended)", wall, true);
  row(
    "attempt from its agent's start (started → ended)",
    medians((r) => r.startedMs),
    true,
  );
  row("task body time (its own clock)", body, true);
  // The fixed cost apart from the loop, which the machine's load makes noisy.
  const outside = medians((r) => r.wallMs - r.bodyMs);
  row("the attempt outside the body", outside, false);
  const overhead = wall[1] / wall[0] - 1;
  console.log(
    `post-mortem overhead: attempt wall time ${percent(overhead)} with onFailure: "pause", task body ` +
      `${percent(body[1] / body[0] - 1)} (goal: within 5 %, on the attempt's wall time from its creation ` +
      `to its end as the server records it): ${overhead <= GOAL ? "PASS" : "MISS"}`,
  );
  console.log(
    `post-mortem fixed cost: ${ms(outside[1] - outside[0])} more outside the task body with onFailure: ` +
      `"pause" (its own process, started beside the agent: Node, tsx, the inspector, the task's module), ` +
      `${percent((outside[1] - outside[0]) / wall[0])} of the plain attempt's median`,
  );

  const throws: ThrowRun[] = [];
  for (let i = 0; i < runs; i++) {
    const run = await throwToReady(api, () => launch("bench_throw_at_once", []));
    throws.push(run);
    console.log(
      `  run ${i + 1}: throw → READY ${ms(run.toReady)} (→ paused ${ms(run.toPaused)}, ` +
        `→ session opened ${ms(run.toSession)}); ${run.pauseLine}`,
    );
  }
  console.log(
    `throw → READY: median ${ms(median(throws.map((r) => r.toReady)))} over ${runs} runs ` +
      `(the task's log line just before its throw → the session READY in executions.get, polled every ` +
      `${POLL_MS} ms); each: ${throws.map((r) => ms(r.toReady)).join(", ")}`,
  );
  console.log(`load average ${(loadavg()[0] ?? NaN).toFixed(2)} at the end`);
} finally {
  if (up.exitCode === null && up.signalCode === null) {
    const exited = once(up, "exit");
    up.kill("SIGTERM");
    await exited;
  }
  await rm(dataDir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
}

/** The bytes per iteration that make the loop last about TARGET_BODY_MS on this machine. */
function bytesForTarget(): number {
  const probe = 2 ** 20;
  hashLoop({ iterations: 5, bytes: probe });
  const { bodyMs } = hashLoop({ iterations: 40, bytes: probe });
  const perByte = bodyMs / 40 / probe;
  return Math.max(4_096, Math.round(TARGET_BODY_MS / ITERATIONS / perByte / 4_096) * 4_096);
}

/** One loop execution to its end: it must succeed in one attempt, with no session. */
async function runLoop(api: Api, workflow: string, start: () => Promise<string>): Promise<LoopRun> {
  const id = await start();
  const detail = await ended(api, id, SLOW_POLL_MS);
  const node = detail.nodes[0];
  const attempt = node?.attempts[0];
  if (detail.execution.status !== "SUCCEEDED" || !node || !attempt)
    throw new Error(
      `${workflow} execution ${id} ended ${detail.execution.status}: ${detail.execution.error?.message}`,
    );
  if (node.attempts.length !== 1)
    throw new Error(`${workflow} execution ${id} took ${node.attempts.length} attempts, not 1`);
  if (attempt.session)
    throw new Error(`${workflow} execution ${id} opened an IDE session though its task succeeded`);
  const output = node.outputs as Partial<Record<keyof LoopRun, unknown>> | undefined;
  if (
    typeof output?.bodyMs !== "number" ||
    typeof output.digest !== "string" ||
    typeof output.program !== "string"
  )
    throw new Error(
      `${workflow} execution ${id} has no {bodyMs, digest, program} output: ${JSON.stringify(output)}`,
    );
  return {
    wallMs: attemptMs(attempt, "createdAt"),
    startedMs: attemptMs(attempt, "startedAt"),
    bodyMs: output.bodyMs,
    digest: output.digest,
    program: output.program,
  };
}

/** One throwing execution: its session READY, paused at the throw; then ended as failed, and checked so. */
async function throwToReady(api: Api, start: () => Promise<string>): Promise<ThrowRun> {
  const id = await start();
  const ready = await until(
    `execution ${id} to have a READY session`,
    120_000,
    POLL_MS,
    async () => {
      const { execution, nodes } = await api.executions.get.query({ id });
      if (execution.status !== "RUNNING")
        throw new Error(`execution ${id} ended ${execution.status}: ${execution.error?.message}`);
      const node = nodes[0];
      const attempt = node?.attempts.at(-1);
      return node && attempt?.session?.state === "READY"
        ? { seen: Date.now(), nodeId: node.nodeId, attempt, session: attempt.session }
        : undefined;
    },
  );
  const pause = ready.session.pause;
  if (pause?.reason !== "exception")
    throw new Error(`the session of execution ${id} is READY without a pause at the throw`);
  const thrownAt = await until(
    `the log of execution ${id} to say when its task threw`,
    30_000,
    SLOW_POLL_MS,
    async () => {
      const { text } = await api.executions.logs.query({ attemptId: ready.attempt.id });
      const match = /throwing at (\d+)/.exec(text);
      return match ? Number(match[1]) : undefined;
    },
  );

  await api.sessions.resume.mutate({ executionId: id, nodeId: ready.nodeId, choice: "fail" });
  const detail = await ended(api, id, POLL_MS);
  const attempts = detail.nodes[0]?.attempts ?? [];
  const last = attempts.at(-1);
  if (detail.execution.status !== "FAILED" || attempts.length !== 1)
    throw new Error(
      `execution ${id} ended as failed should be FAILED after 1 attempt; it is ` +
        `${detail.execution.status} after ${attempts.length}`,
    );
  if (last?.resume?.choice !== "fail" || last.error?.code !== RESUME_FAIL_CODE)
    throw new Error(
      `execution ${id}'s attempt should record resume "fail" and code ${RESUME_FAIL_CODE}; it has ` +
        `${JSON.stringify({ resume: last?.resume, error: last?.error })}`,
    );
  return {
    toReady: ready.seen - thrownAt,
    toPaused: Date.parse(pause.at) - thrownAt,
    toSession: Date.parse(ready.session.createdAt) - thrownAt,
    pauseLine: describePause(pause),
  };
}

function attemptMs(attempt: Attempt, from: "createdAt" | "startedAt"): number {
  const start = attempt[from];
  if (!start || !attempt.endedAt)
    throw new Error(`attempt ${attempt.id} has no ${from} or end time`);
  return Date.parse(attempt.endedAt) - Date.parse(start);
}

async function ended(api: Api, id: string, pollMs: number): Promise<ExecutionDetail> {
  return until(`execution ${id} to end`, 5 * 60_000, pollMs, async () => {
    const detail = await api.executions.get.query({ id });
    return detail.execution.status === "RUNNING" ? undefined : detail;
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

function ms(value: number): string {
  return `${(value / 1000).toFixed(2)} s`;
}

function percent(ratio: number): string {
  return `${ratio >= 0 ? "+" : ""}${(ratio * 100).toFixed(1)} %`;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  pollMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${upOutput}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
