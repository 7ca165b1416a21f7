/**
 * The benchmark's child processes and how the main process talks to them: each child is forked with tsx,
 * announces itself with one `ready` message (its ports, say), then answers numbered requests. A child exits
 * when asked to, and also when the IPC channel closes (the main process died), so nothing outlives a run.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { usageNow } from "./shared.js";

const benchDir = dirname(fileURLToPath(import.meta.url));
/** The package root: the children resolve `tsx` from here, wherever the bench was started from. */
const packageDir = join(benchDir, "..");

type Message =
  | { type: "ready"; value: unknown }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: string }
  | { type: "call"; id: number; op: string; arg: unknown };

export interface ChildOptions {
  /** Extra node flags, e.g. `--expose-gc`. */
  nodeFlags?: string[];
  /** Write V8 CPU profiles of the child into `<cpuProfDir>/<name>/` when it exits (`--cpu-prof`). */
  cpuProfDir?: string;
  /** Run the child in this network namespace (`ip netns exec`; needs root). */
  netns?: string;
  /** The address the child listens on (`DRYDOCK_BENCH_HOST`); 127.0.0.1 by default. */
  listenHost?: string;
}

/** The address a child listens on: `DRYDOCK_BENCH_HOST`, set by `ChildOptions.listenHost`. */
export function listenHost(): string {
  return process.env.DRYDOCK_BENCH_HOST ?? "127.0.0.1";
}

/** One forked benchmark process, as the main process sees it. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private exitError: Error | undefined;
  readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    proc.on("message", (message: Message) => {
      if (message.type !== "reply") return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(`${name}: ${message.error}`));
    });
    proc.once("exit", (code, signal) => {
      this.exitError = new Error(`${name} exited (${signal ?? `code ${code}`})`);
      for (const waiter of this.pending.values()) waiter.reject(this.exitError);
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Forks `bench/<script>` and resolves with the child and what it announced once ready. */
  static start<Ready>(
    name: string,
    script: string,
    args: string[],
    options: ChildOptions = {},
  ): Promise<{ child: Child; ready: Ready }> {
    const execArgv = ["--import", "tsx", ...(options.nodeFlags ?? [])];
    // One directory per child: node writes a profile per thread (tsx's loader thread too), named CPU.<date>.<pid>.<tid>….
    if (options.cpuProfDir)
      execArgv.push("--cpu-prof", `--cpu-prof-dir=${join(options.cpuProfDir, name)}`);
    const env = {
      ...process.env,
      ...(options.listenHost ? { DRYDOCK_BENCH_HOST: options.listenHost } : {}),
    };
    const stdio: ["ignore", "inherit", "inherit", "ipc"] = ["ignore", "inherit", "inherit", "ipc"];
    // In another network namespace, `ip netns exec` runs node: the IPC channel is inherited as any fd is.
    const proc = options.netns
      ? spawn(
          "ip",
          [
            "netns",
            "exec",
            options.netns,
            process.execPath,
            ...execArgv,
            join(benchDir, script),
            ...args,
          ],
          { cwd: packageDir, env, stdio },
        )
      : fork(join(benchDir, script), args, { cwd: packageDir, execArgv, env, stdio });
    const child = new Child(name, proc);
    live.add(child);
    void child.exited.then(() => live.delete(child));
    return new Promise((resolve, reject) => {
      const onMessage = (message: Message) => {
        if (message.type !== "ready") return;
        cleanup();
        resolve({ child, ready: message.value as Ready });
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new Error(`${name} exited before it was ready (${signal ?? `code ${code}`})`));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(new Error(`${name} could not start: ${error.message}`));
      };
      const cleanup = () => {
        proc.off("message", onMessage);
        proc.off("exit", onExit);
        proc.off("error", onError);
      };
      proc.on("message", onMessage);
      proc.once("exit", onExit);
      proc.once("error", onError);
    });
  }

  /** Asks the child to run `op` and resolves with its answer. */
  call<T>(op: string, arg?: unknown): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.proc.send({ type: "call", id, op, arg } satisfies Message);
    });
  }

  /** Asks the child to exit (so a CPU profile gets written), then kills it if it has not within 3 s. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.call("exit").catch(() => undefined);
    const timer = setTimeout(() => this.kill(), 3_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the child at once. */
  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}

/** Children still running, so they can be killed whichever way the main process ends. */
const live = new Set<Child>();

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop()));
}

export function killAll(): void {
  for (const child of live) child.kill();
}

/**
 * The child's side: announces `ready`, then serves `handlers` until asked to exit or the parent goes away.
 * A handler's result must be serializable; a thrown error is sent back as its message. Every child also
 * answers `usage` (CPU time and wake-ups so far, see `Usage`) and `exit`.
 */
export function serveParent(
  ready: unknown,
  handlers: Record<string, (arg: unknown) => unknown>,
): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error("this benchmark script runs as a child of bench/relay.ts");
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: Message) => {
    if (message.type !== "call") return;
    const { id, op, arg } = message;
    if (op === "usage") {
      send({ type: "reply", id, ok: true, value: usageNow() } satisfies Message);
      return;
    }
    if (op === "exit") {
      send({ type: "reply", id, ok: true, value: null } satisfies Message, () => process.exit(0));
      return;
    }
    const handler = handlers[op];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`no such operation: ${op}`);
        return handler(arg);
      })
      .then(
        (value) => send({ type: "reply", id, ok: true, value: value ?? null } satisfies Message),
        (error: unknown) =>
          send({
            type: "reply",
            id,
            ok: false,
            error: error instanceof Error ? error.message : String(error),
          } satisfies Message),
      );
  });
  send({ type: "ready", value: ready } satisfies Message);
}

/**
 * Runs a benchmark's `main` as the whole process: on SIGINT, SIGTERM or exit every child is killed and
 * `cleanUp` runs (synchronously: the process is going); a failure is printed as "<name> failed: …" with a non-zero
 * exit code; the children are stopped; then the process exits even if a library left a timer behind.
 */
export async function runBenchmark(
  name: string,
  main: () => Promise<void>,
  cleanUp: () => void = () => undefined,
): Promise<never> {
  const abandon = (code: number) => () => {
    killAll();
    cleanUp();
    process.exit(code);
  };
  process.once("SIGINT", abandon(130));
  process.once("SIGTERM", abandon(143));
  process.once("exit", () => {
    killAll();
    cleanUp();
  });
  try {
    await main();
  } catch (error) {
    console.error(
      `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  } finally {
    await stopAll();
  }
  process.exit();
}
