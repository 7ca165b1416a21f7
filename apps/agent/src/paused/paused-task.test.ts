import { mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { startPausedTask } from "./paused-task.js";
import type { PausedTask, PausedTaskEvent } from "./paused-task.js";

/** Tasks with the SDK's brand written by hand (as src/test/fixture.ts does): a bundle needs no SDK to run. */
const TASKS = `const ENTITY = Symbol.for("drydock.entity");
type Inputs = Record<string, unknown>;
function task(name: string, fn: (inputs: Inputs) => unknown) {
  const entity = {
    kind: "task",
    spec: { name, inputs: {}, required: [], output: {}, retries: 0 },
    execute: async (inputs: Inputs) => (await fn(inputs)) ?? null,
    fn,
  };
  return Object.assign((inputs: Inputs) => fn(inputs), { [ENTITY]: entity });
}

function scale(values: number[], factor: number): number[] {
  const limit = 100;
  return values.map((v) => {
    if (v * factor > limit) throw new RangeError(\`\${v} x \${factor} is over \${limit}\`);
    return v * factor;
  });
}
function normalise(values: number[], factor: number): number[] {
  return scale(values, factor);
}

export const deep = task("deep", async ({ values, factor }) => {
  await new Promise((r) => setTimeout(r, 5));
  return normalise(values as number[], factor as number);
});
export const held = task("held", ({ n }) => {
  const doubled = (n as number) * 2;
  return { doubled };
});
export const caughtInside = task("caught_inside", () => {
  try {
    JSON.parse("{");
  } catch {
    return "recovered";
  }
});
`;

let dir: string;
const started: PausedTask[] = [];
const output: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-paused-test-"));
  await writeFile(join(dir, "tasks.ts"), TASKS);
  await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
});
afterAll(async () => {
  await Promise.all(started.map((t) => t.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function start(
  taskName: string,
  inputs: Record<string, unknown>,
  pauseBefore = false,
): Promise<{ task: PausedTask; privateDir: string }> {
  const privateDir = await mkdtemp(join(dir, "private-"));
  const task = await startPausedTask({
    bundleDir: dir,
    entry: "tasks.ts",
    taskName,
    inputs,
    pauseBefore,
    postExecute: false,
    privateDir,
    writeOutput: (_stream, chunk) => output.push(chunk.toString()),
    signal: new AbortController().signal,
    env: { PATH: process.env.PATH ?? "" },
  });
  started.push(task);
  return { task, privateDir };
}

/** A minimal CDP client over the inspector's Unix socket, as VS Code's debugger connects. */
async function cdp(url: string) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map<number, (m: Record<string, unknown>) => void>();
  const events: { method: string; params: Record<string, unknown> }[] = [];
  ws.on("message", (data) => {
    const message = JSON.parse((data as Buffer).toString("utf8")) as Record<string, unknown>;
    if (typeof message.id === "number") pending.get(message.id)?.(message);
    else events.push(message as (typeof events)[number]);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<Record<string, unknown>>((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  // A task that ends as soon as it is resumed may take its process, and the socket, with it before the reply.
  ws.once("close", () => pending.forEach((resolve) => resolve({})));
  const event = async (method: string) => {
    for (let i = 0; i < 100; i++) {
      const found = events.find((e) => e.method === method);
      if (found) return found.params;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${method} event`);
  };
  return { ws, send, event };
}

async function processAlive(pid: number): Promise<boolean> {
  return stat(`/proc/${pid}`).then(
    () => true,
    () => false,
  );
}

/** The pids whose command line runs the paused-task runner. */
async function runners(): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("paused-runner.js")) found.push(Number(entry));
  }
  return found;
}

/** Inodes of the TCP sockets listening on this machine (any address). */
async function listeningTcpInodes(): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"])
    for (const row of (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols[3] === "0A" && cols[9]) inodes.add(cols[9]);
    }
  return inodes;
}

describe("a paused-task runner", () => {
  it("runs a task that succeeds to its output, and its process is gone", async () => {
    const { task } = await start("held", { n: 21 });
    expect(await task.next()).toEqual({ type: "succeeded", output: { doubled: 42 } });
    await task.stop();
    expect(await runners()).toEqual([]);
  });

  it("does not pause at an exception the task catches itself", async () => {
    const { task } = await start("caught_inside", {});
    expect(await task.next()).toEqual({ type: "succeeded", output: "recovered" });
  });

  it("pauses at a throw three frames deep, with its locals readable through the inspector's Unix socket only", async () => {
    const { task, privateDir } = await start("deep", { values: [10, 60], factor: 2 });
    const paused = (await task.next()) as Extract<PausedTaskEvent, { type: "paused" }>;
    expect(paused.pause).toMatchObject({
      reason: "exception",
      file: "tasks.ts",
      line: 16,
      message: "60 x 2 is over 100",
      name: "RangeError",
    });
    expect(paused.pause.stack).toContain("normalise");

    // The socket is the attempt's alone; the process listens on no TCP port.
    expect((await stat(join(privateDir, "inspector.sock"))).mode & 0o777).toBe(0o600);
    const [pid] = await runners();
    const listening = await listeningTcpInodes();
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      const inode = /^socket:\[(\d+)\]$/.exec(
        await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ""),
      )?.[1];
      if (inode) expect(listening.has(inode)).toBe(false);
    }

    // A debugger attaching later still finds it paused at the throw, with the frames' locals.
    const client = await cdp(task.inspectorUrl);
    await client.send("Runtime.enable");
    await client.send("Debugger.enable");
    const event = (await client.event("Debugger.paused")) as {
      callFrames: { callFrameId: string; functionName: string }[];
    };
    expect(event.callFrames.slice(0, 3).map((f) => f.functionName)).toEqual([
      "",
      "scale",
      "normalise",
    ]);
    const evaluated = (await client.send("Debugger.evaluateOnCallFrame", {
      callFrameId: event.callFrames[0]?.callFrameId,
      expression: "`${v} ${factor} ${limit}`",
    })) as { result: { result: { value: string } } };
    expect(evaluated.result.result.value).toBe("60 2 100");

    // Let go, the error goes on: the task fails with it, and the process ends.
    await client.send("Debugger.resume");
    const failed = await task.next();
    expect(failed).toMatchObject({
      type: "failed",
      error: { message: "60 x 2 is over 100", name: "RangeError" },
    });
    client.ws.close();
    await task.stop();
    expect(await runners()).toEqual([]);
    await expect(stat(join(privateDir, "inspector.sock"))).rejects.toThrow();
  });

  it("holds a pause point on the task function's first line with its inputs, and continuing runs it", async () => {
    const { task } = await start("held", { n: 5 }, true);
    const paused = (await task.next()) as Extract<PausedTaskEvent, { type: "paused" }>;
    expect(paused.pause).toMatchObject({ reason: "before", file: "tasks.ts", line: 29 });
    const client = await cdp(task.inspectorUrl);
    await client.send("Debugger.enable");
    const event = (await client.event("Debugger.paused")) as {
      callFrames: { callFrameId: string }[];
    };
    const n = (await client.send("Debugger.evaluateOnCallFrame", {
      callFrameId: event.callFrames[0]?.callFrameId,
      expression: "n",
    })) as { result: { result: { value: number } } };
    expect(n.result.result.value).toBe(5);
    await client.send("Debugger.resume");
    expect(await task.next()).toEqual({ type: "succeeded", output: { doubled: 10 } });
    client.ws.close();
  });

  it("stops a paused process: the whole group ends and the socket is removed", async () => {
    const { task } = await start("deep", { values: [500], factor: 1 });
    expect((await task.next()).type).toBe("paused");
    const [pid] = await runners();
    await task.stop();
    expect(await processAlive(pid ?? 0)).toBe(false);
  });

  it("fails, naming the task, when the bundle does not define it", async () => {
    const { task } = await start("missing", {});
    expect(await task.next()).toMatchObject({
      type: "failed",
      error: { message: 'task "missing" is not defined in tasks.ts', code: "TASK_IMPORT_FAILED" },
    });
  });
});
