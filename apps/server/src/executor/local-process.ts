import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { groupAlive } from "@drydock/agent/process-group";

import type { Logger } from "../logger.js";
import type { AttemptExit, AttemptLaunch, Executor, ExecutorOptions } from "./executor.js";
import { tailFile } from "./tail.js";

export interface LocalProcessExecutorOptions extends ExecutorOptions {
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
}

/**
 * Runs each attempt's agent as a child process in its own process group (so abort and timeout end the
 * task's whole tree) and its own working directory. A warm agent may run further attempts of its execution
 * (`handOver`). Agents survive a server crash; a restarted server adopts them by pid, checking /proc that
 * the pid is still that agent.
 */
export class LocalProcessExecutor implements Executor {
  readonly kind = "local";
  readonly warmAgents = true;
  /** Live agents by pid: the attempt each was launched for (its name in the process table) and the one it runs now. */
  private readonly agents = new Map<number, { agent: string; attempt: string }>();
  private readonly pidOf = new Map<string, number>();
  private readonly listeners: ((attemptId: string, exit: AttemptExit) => void)[] = [];
  private readonly graceMs: number;

  constructor(private readonly opts: LocalProcessExecutorOptions) {
    this.graceMs = (opts.terminateGraceSeconds ?? 5) * 1000;
  }

  onExit(listener: (attemptId: string, exit: AttemptExit) => void): void {
    this.listeners.push(listener);
  }

  private dir(agent: string): string {
    return join(this.opts.attemptsDir, agent);
  }

  private track(pid: number, agent: string, attempt: string): void {
    this.agents.set(pid, { agent, attempt });
    this.pidOf.set(attempt, pid);
  }

  async launch(attempt: AttemptLaunch): Promise<{ pid: number }> {
    const dir = this.dir(attempt.attemptId);
    const work = join(dir, "work");
    await mkdir(work, { recursive: true, mode: 0o700 });
    const logFd = openSync(join(dir, "agent.log"), "a", 0o600);
    try {
      const child = spawn(
        process.execPath,
        [this.opts.agentEntry, "--attempt", attempt.attemptId],
        {
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
        },
      );
      const pid = child.pid;
      if (pid === undefined) {
        const error = await new Promise<Error>((resolve) => child.once("error", resolve));
        throw new Error(`could not start the agent: ${error.message}`);
      }
      this.track(pid, attempt.attemptId, attempt.attemptId);
      child.once("exit", (code, signal) => void this.exited(pid, code, signal));
      child.unref();
      return { pid };
    } finally {
      closeSync(logFd);
    }
  }

  async adopt(attemptId: string, pid: number, agent: string): Promise<boolean> {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.split("\0").includes(agent)) return false;
    const watched = this.agents.has(pid);
    this.track(pid, agent, attemptId);
    if (watched) return true;
    void (async () => {
      while (this.agents.has(pid) && (await groupAlive(pid))) await sleep(250);
      await this.exited(pid, null, null);
    })();
    return true;
  }

  handOver(from: string, to: string): boolean {
    const pid = this.pidOf.get(from);
    const entry = pid === undefined ? undefined : this.agents.get(pid);
    if (pid === undefined || !entry) return false;
    this.pidOf.delete(from);
    this.track(pid, entry.agent, to);
    return true;
  }

  private async exited(pid: number, code: number | null, signal: string | null): Promise<void> {
    // The agent is gone; make sure nothing it started lingers in its group.
    if (await groupAlive(pid)) await this.killGroup(pid);
    const entry = this.agents.get(pid);
    if (!entry) return;
    this.agents.delete(pid);
    this.pidOf.delete(entry.attempt);
    const tail = await tailFile(join(this.dir(entry.agent), "agent.log"));
    await rm(join(this.dir(entry.agent), "work"), { recursive: true, force: true }).catch(
      () => undefined,
    );
    for (const listener of this.listeners) listener(entry.attempt, { code, signal, tail });
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
    const deadline = Date.now() + this.graceMs;
    while ((await groupAlive(pgid)) && Date.now() < deadline) await sleep(25);
    if (await groupAlive(pgid)) {
      this.opts.log.warn({ pgid }, "agent ignored SIGTERM; killing its process group");
      signal("SIGKILL");
      while (await groupAlive(pgid)) await sleep(25);
    }
  }

  async terminate(attemptId: string): Promise<void> {
    const pid = this.pidOf.get(attemptId);
    if (pid === undefined) return;
    await this.killGroup(pid);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.agents.keys()].map((pid) => this.killGroup(pid)));
  }
}
