import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { groupAlive } from "@drydock/agent/process-group";

import type { Logger } from "../logger.js";
import { BundleShelf, shelfDir } from "./bundle-shelf.js";
import { agentEnvironment } from "./executor.js";
import type { AttemptExit, AttemptLaunch, Executor, ExecutorOptions } from "./executor.js";
import { AttemptHomes, DEFAULT_HOMES_DIR, isolationSupport } from "./isolation.js";
import type { IsolationMode } from "./isolation.js";
import { tailFile } from "./tail.js";

export interface LocalProcessExecutorOptions extends ExecutorOptions {
  /** The agent's built entry (`@drydock/agent`'s dist/main.js). */
  agentEntry: string;
  /**
   * `<dataDir>/attempts`: one folder per attempt, holding its agent.log (and, unisolated, its work dir).
   * Only the server may enter it; an isolated agent writes its log through the descriptor it is given.
   */
  attemptsDir: string;
  /** The cache agents share when they run as the server's user; isolated agents each have their own. */
  cacheDir: string;
  /**
   * Where isolated attempts get their homes (`<homesDir>/<uid>`, each its own and 0700): a directory of
   * root's that other users may pass through; default `drydock-attempts` in the temp directory.
   */
  homesDir?: string;
  /** The server's base URL as agents reach it (known once the server listens). */
  endpoint: () => string;
  log: Logger;
  /** The environment every agent gets (PATH, HOME, …; never the server's secrets), plus its own DRYDOCK_* variables. */
  env: Record<string, string>;
  /**
   * A bundle's tarball by its sha256 (the blob store's): given, isolated agents find their bundle in their cache
   * as they start (bundle-shelf.ts) instead of each downloading and extracting it.
   */
  bundleTarball?: (sha256: string) => Promise<Buffer>;
}

/**
 * Runs each attempt's agent as a child process in its own process group (so abort and timeout end the
 * task's whole tree) and its own working directory. As root, each agent runs as its own unprivileged user
 * with its own home (isolation.ts), so neither its task nor its IDE can read the data directory, another
 * attempt's token, files or sockets; otherwise (`isolation: "none"`, warned at start-up) as the server's.
 * A warm agent may run further attempts of its execution (`handOver`). Agents survive a server crash; a
 * restarted server adopts them by pid, checking /proc that the pid is still that agent.
 */
export class LocalProcessExecutor implements Executor {
  readonly kind = "local";
  readonly warmAgents = true;
  /** Whether each attempt runs as its own user ("per-attempt-user") or as the server's ("none"). */
  readonly isolation: IsolationMode;
  /**
   * Live agents by pid: the attempt each was launched for (its name in the process table), the one it runs
   * now, and the directory removed when it ends (its home, or its work dir when unisolated).
   */
  private readonly agents = new Map<number, { agent: string; attempt: string; scratch: string }>();
  private readonly pidOf = new Map<string, number>();
  private readonly listeners: ((attemptId: string, exit: AttemptExit) => void)[] = [];
  private readonly graceMs: number;
  private readonly homes?: AttemptHomes;
  private readonly shelf?: BundleShelf;

  constructor(private readonly opts: LocalProcessExecutorOptions) {
    this.graceMs = (opts.terminateGraceSeconds ?? 5) * 1000;
    const support = isolationSupport([process.execPath, opts.agentEntry]);
    this.isolation = support.mode;
    if (support.mode === "none") {
      opts.log.warn({ isolation: "none" }, `attempts are not isolated: ${support.reason}`);
      return;
    }
    this.homes = new AttemptHomes(opts.homesDir ?? DEFAULT_HOMES_DIR, opts.log);
    if (opts.bundleTarball)
      this.shelf = new BundleShelf({
        root: shelfDir(this.homes.root),
        tarball: opts.bundleTarball,
        log: opts.log,
      });
    opts.log.info(
      { isolation: support.mode, homes: this.homes.root },
      "each attempt runs as its own user, with its own home",
    );
  }

  onExit(listener: (attemptId: string, exit: AttemptExit) => void): void {
    this.listeners.push(listener);
  }

  private dir(agent: string): string {
    return join(this.opts.attemptsDir, agent);
  }

  private track(pid: number, agent: string, attempt: string, scratch: string): void {
    this.agents.set(pid, { agent, attempt, scratch });
    this.pidOf.set(attempt, pid);
  }

  async launch(attempt: AttemptLaunch): Promise<{ pid: number }> {
    const dir = this.dir(attempt.attemptId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const logFd = openSync(join(dir, "agent.log"), "a", 0o600);
    try {
      const place = await this.place(dir, attempt.bundle);
      const child = spawn(
        process.execPath,
        [this.opts.agentEntry, "--attempt", attempt.attemptId],
        {
          cwd: place.work,
          detached: true,
          stdio: ["ignore", logFd, logFd],
          ...place.identity,
          env: { ...place.env, ...agentEnvironment(attempt, this.opts.endpoint()) },
        },
      );
      const pid = child.pid;
      if (pid === undefined) {
        const error = await new Promise<Error>((resolve) => child.once("error", resolve));
        await this.removeScratch(place.scratch);
        throw new Error(`could not start the agent: ${error.message}`);
      }
      this.track(pid, attempt.attemptId, attempt.attemptId, place.scratch);
      child.once("exit", (code, signal) => void this.exited(pid, code, signal));
      child.unref();
      return { pid };
    } finally {
      closeSync(logFd);
    }
  }

  /**
   * Where and as whom an agent runs: isolated, its own uid/gid, its home's work dir and environment, and its
   * bundle already in its cache (when the shelf can put it there); otherwise the server's user,
   * `<attempt dir>/work` and the shared cache.
   */
  private async place(
    dir: string,
    bundle: string | undefined,
  ): Promise<{
    work: string;
    scratch: string;
    identity: { uid: number; gid: number } | Record<string, never>;
    env: Record<string, string>;
  }> {
    if (!this.homes) {
      const work = join(dir, "work");
      await mkdir(work, { recursive: true, mode: 0o700 });
      return {
        work,
        scratch: work,
        identity: {},
        env: { ...this.opts.env, DRYDOCK_CACHE_DIR: this.opts.cacheDir },
      };
    }
    const home = await this.homes.create();
    try {
      const env = await this.homes.agentEnv(home, this.opts.env);
      if (bundle && this.shelf) await this.shelf.placeIn(home.cache, bundle, home);
      return {
        work: home.work,
        scratch: home.dir,
        identity: { uid: home.uid, gid: home.gid },
        env,
      };
    } catch (error) {
      await this.homes.remove(home.dir);
      throw error;
    }
  }

  private async removeScratch(scratch: string): Promise<void> {
    const removal = this.homes?.owns(scratch)
      ? this.homes.remove(scratch)
      : rm(scratch, { recursive: true, force: true });
    await removal.catch((err: unknown) =>
      this.opts.log.warn({ err, dir: scratch }, "could not remove an ended attempt's files"),
    );
  }

  async adopt(attemptId: string, pid: number, agent: string): Promise<boolean> {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.split("\0").includes(agent)) return false;
    const watched = this.agents.has(pid);
    const scratch =
      this.agents.get(pid)?.scratch ??
      (await this.homes?.homeOf(pid)) ??
      join(this.dir(agent), "work");
    this.track(pid, agent, attemptId, scratch);
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
    this.track(pid, entry.agent, to, entry.scratch);
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
    await this.removeScratch(entry.scratch);
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
    await this.shelf?.clear();
  }
}
