import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import type { Logger } from "../logger.js";
import type { AttemptExit, AttemptLaunch, Executor } from "./executor.js";

export interface LocalProcessExecutorOptions {
  /** The agent's built entry (`@drydock/agent`'s dist/main.js). */
  agentEntry: string;
  /** `<dataDir>/attempts`: one folder per attempt, holding its agent.log and a private work dir. */
  attemptsDir: string;
  cacheDir: string;
  /** The server's base URL as agents reach it (known once the server listens). */
  endpoint: () => string;
  log: Logger;
  /** The environment every agent gets (PATH, HOME, …; never the server's secrets), plus its own DRYDOCK_* variables. */
  env: Record<string, string>;
  terminateGraceMs?: number;
}

/**
 * Whether any process of the group still runs. Read from /proc rather than `kill(-pgid, 0)`, which also
 * counts zombies: agents adopted after a restart are not our children, and nobody may reap them.
 */
async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  for (const entry of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) return true;
  }
  return false;
}

/**
 * Runs each attempt's agent as a child process in its own process group (so abort and timeout end the
 * task's whole tree) and its own working directory. Agents survive a server crash; a restarted server
 * adopts them by pid, checking /proc that the pid is still that attempt's agent.
 */
export class LocalProcessExecutor implements Executor {
  private readonly pids = new Map<string, number>();
  private readonly listeners: ((attemptId: string, exit: AttemptExit) => void)[] = [];
  private readonly grace: number;

  constructor(private readonly opts: LocalProcessExecutorOptions) {
    this.grace = opts.terminateGraceMs ?? 5_000;
  }

  onExit(listener: (attemptId: string, exit: AttemptExit) => void): void {
    this.listeners.push(listener);
  }

  private dir(attemptId: string): string {
    return join(this.opts.attemptsDir, attemptId);
  }

  async launch(attempt: AttemptLaunch): Promise<{ pid: number }> {
    const dir = this.dir(attempt.attemptId);
    const work = join(dir, "work");
    await mkdir(work, { recursive: true, mode: 0o700 });
    const logFd = openSync(join(dir, "agent.log"), "a");
    try {
      const child = spawn(process.execPath, [this.opts.agentEntry, "--attempt", attempt.attemptId], {
        cwd: work,
        detached: true,
        stdio: ["ignore", logFd, logFd],
        env: {
          ...this.opts.env,
          DRYDOCK_ENDPOINT: this.opts.endpoint(),
          DRYDOCK_AGENT_TOKEN: attempt.token,
          DRYDOCK_CACHE_DIR: this.opts.cacheDir,
          DRYDOCK_ATTEMPT_ID: attempt.attemptId,
        },
      });
      const pid = child.pid;
      if (pid === undefined) {
        const error = await new Promise<Error>((resolve) => child.once("error", resolve));
        throw new Error(`could not start the agent: ${error.message}`);
      }
      this.pids.set(attempt.attemptId, pid);
      child.once("exit", (code, signal) => void this.exited(attempt.attemptId, pid, code, signal));
      child.unref();
      return { pid };
    } finally {
      closeSync(logFd);
    }
  }

  async adopt(attemptId: string, pid: number): Promise<boolean> {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.split("\0").includes(attemptId)) return false;
    this.pids.set(attemptId, pid);
    void (async () => {
      while (this.pids.get(attemptId) === pid && (await groupAlive(pid))) await sleep(250);
      await this.exited(attemptId, pid, null, null);
    })();
    return true;
  }

  private async exited(attemptId: string, pid: number, code: number | null, signal: string | null): Promise<void> {
    // The agent is gone; make sure nothing it started lingers in its group.
    if (await groupAlive(pid)) await this.killGroup(pid);
    if (this.pids.get(attemptId) !== pid) return;
    this.pids.delete(attemptId);
    const tail = await this.tail(attemptId);
    await rm(join(this.dir(attemptId), "work"), { recursive: true, force: true }).catch(() => undefined);
    for (const listener of this.listeners) listener(attemptId, { code, signal, tail });
  }

  private async tail(attemptId: string): Promise<string> {
    const file = await open(join(this.dir(attemptId), "agent.log"), "r").catch(() => undefined);
    if (!file) return "";
    try {
      const { size } = await file.stat();
      const length = Math.min(size, 2_048);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      return buffer.toString("utf8");
    } finally {
      await file.close();
    }
  }

  private async killGroup(pgid: number): Promise<void> {
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-pgid, name);
      } catch {
        /* already gone */
      }
    };
    signal("SIGTERM");
    const deadline = Date.now() + this.grace;
    while ((await groupAlive(pgid)) && Date.now() < deadline) await sleep(25);
    if (await groupAlive(pgid)) {
      this.opts.log.warn({ pgid }, "agent ignored SIGTERM; killing its process group");
      signal("SIGKILL");
      while (await groupAlive(pgid)) await sleep(25);
    }
  }

  async terminate(attemptId: string): Promise<void> {
    const pid = this.pids.get(attemptId);
    if (pid === undefined) return;
    await this.killGroup(pid);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.pids.keys()].map((id) => this.terminate(id)));
  }
}
