/**
 * code-server provisioning: the pinned version from PATH or the machine's cache, else installed once into
 * `<cache>/code-server-<version>/` with npm. The steps are those of infra/scripts/install-code-server.sh
 * (which stays the root-level, global install CI and `pnpm test` use); this is the unprivileged fallback an
 * agent runs on a machine nobody prepared. Keep the two in step.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, copyFile, mkdir, open, readdir, readFile, rename, rm, stat, utimes } from "node:fs/promises";
import { homedir, hostname, tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";

import { create as createTar } from "tar";

import { CODE_SERVER_VERSION, CodeServerMissingError, findCodeServer } from "./code-server.js";

/** What to do when the agent cannot install code-server itself. */
const REMEDY =
  `run infra/scripts/install-code-server.sh as root (it also installs Debian's ripgrep and libkrb5-dev), ` +
  `or put code-server ${CODE_SERVER_VERSION} on PATH`;

export class CodeServerInstallError extends Error {
  override name = "CodeServerInstallError";
  constructor(
    /** The step that failed: `lock`, `ripgrep`, `npm install`, `ripgrep cache`, `argon2`, `postinstall`, `verify`, `move into place`. */
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

export interface EnsureCodeServerOptions {
  /** The machine's cache; an install goes to `<cacheDir>/code-server-<version>/`. */
  cacheDir: string;
  pathEnv: string | undefined;
  /** Progress for the task log (one line each). */
  onProgress?: (line: string) => void;
  /** The npm to install with (default `npm` on PATH). */
  npmBin?: string;
  /** Environment of the install's commands (default: PATH and HOME). npm_config_* variables here steer npm. */
  env?: Record<string, string | undefined>;
  /** Per-step time limit (default 20 min). */
  stepTimeoutMs?: number;
}

/** How long a lock survives a holder that stopped refreshing it (another host or PID namespace, a frozen agent). */
const LOCK_STALE_MS = 120_000;
const LOCK_REFRESH_MS = 10_000;
const LOCK_MAX_WAIT_MS = 45 * 60_000;
/** The ripgrep release @vscode/ripgrep 1.15–1.17 fetch; its tarball holds a single `rg`. */
const RIPGREP_RELEASE = "v13.0.0-10";

/**
 * The path of a runnable code-server of the pinned version: found on PATH or in the cache, else installed
 * into the cache first (once per machine: concurrent agents wait for the one that installs).
 * Throws CodeServerInstallError, naming the failed step, its command and output, when it cannot be installed.
 */
export async function ensureCodeServer(options: EnsureCodeServerOptions): Promise<string> {
  const found = await findOrUndefined(options.cacheDir, options.pathEnv);
  if (found) return found;

  const progress = options.onProgress ?? (() => {});
  const version = CODE_SERVER_VERSION;
  const finalDir = join(options.cacheDir, `code-server-${version}`);
  await mkdir(options.cacheDir, { recursive: true });
  const lock = await acquireLock(join(options.cacheDir, `code-server-${version}.lock`), progress);
  try {
    // Whoever held the lock before us may have installed it.
    const installedMeanwhile = await findOrUndefined(options.cacheDir, options.pathEnv);
    if (installedMeanwhile) return installedMeanwhile;
    await removeLeftovers(options.cacheDir, version);
    const started = Date.now();
    progress(`code-server ${version} is not on PATH or in the cache: installing it into ${finalDir} (once per machine, a few minutes)`);
    await install(options, finalDir, progress);
    const bin = await findOrUndefined(options.cacheDir, "");
    if (!bin) throw new CodeServerInstallError("verify", `code-server ${version} was installed into ${finalDir} but is not runnable there; ${REMEDY}`);
    progress(`code-server ${version} installed in ${Math.round((Date.now() - started) / 1000)} s: ${bin}`);
    return bin;
  } finally {
    await lock.release();
  }
}

async function findOrUndefined(cacheDir: string, pathEnv: string | undefined): Promise<string | undefined> {
  try {
    return await findCodeServer({ cacheDir, pathEnv });
  } catch (error) {
    if (error instanceof CodeServerMissingError) return undefined;
    throw error;
  }
}

/** Partial installs of agents that died mid-way (we hold the lock, so none is in progress) and a broken final dir. */
async function removeLeftovers(cacheDir: string, version: string) {
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith(`.code-server-${version}.partial-`) || entry === `code-server-${version}`) {
      await rm(join(cacheDir, entry), { recursive: true, force: true });
    }
  }
}

async function install(options: EnsureCodeServerOptions, finalDir: string, progress: (line: string) => void) {
  const version = CODE_SERVER_VERSION;
  const npm = options.npmBin ?? "npm";
  const baseEnv = options.env ?? { PATH: options.pathEnv, HOME: homedir() };
  const env: Record<string, string | undefined> = { ...baseEnv, PATH: baseEnv.PATH ?? options.pathEnv };
  // node-gyp downloads Node's headers unless told where they are; the running Node's own are the right ones.
  const nodeDir = dirname(dirname(process.execPath));
  if (!env.npm_config_nodedir && (await exists(join(nodeDir, "include", "node", "common.gypi")))) env.npm_config_nodedir = nodeDir;
  const timeoutMs = options.stepTimeoutMs ?? 20 * 60_000;
  const scratch = join(dirname(finalDir), `.code-server-${version}.partial-${process.pid}-${randomBytes(4).toString("hex")}`);
  const pkgDir = join(scratch, "node_modules", "code-server");
  const run = (step: string, command: string, args: string[], cwd: string, stepEnv = env) => {
    progress(`code-server install: ${step}: ${[command, ...args].join(" ")}`);
    return runStep({ step, command, args, cwd, env: stepEnv, timeoutMs, onLine: (line) => progress(`  ${line}`) });
  };

  try {
    const rg = await findOnPath("rg", env.PATH);
    if (!rg) throw new CodeServerInstallError("ripgrep", `cannot install code-server ${version}: step "ripgrep" failed: no \`rg\` on PATH (Debian's ripgrep; code-server's own download of it needs GitHub); ${REMEDY}`);
    await mkdir(scratch, { recursive: true });

    await run("npm install", npm, ["install", "--prefix", scratch, "--ignore-scripts", "--no-fund", "--no-audit", `code-server@${version}`], scratch);

    // @vscode/ripgrep downloads rg from GitHub unless its cache already holds the release tarball: put the system rg there.
    const ripgrepVersions = await ripgrepVersionsOf(pkgDir);
    const cacheRoot = (env.TMPDIR || env.TMP || env.TEMP || tmpdir()).replace(/(.)\/+$/, "$1");
    progress(`code-server install: ripgrep cache: ${rg} as @vscode/ripgrep ${ripgrepVersions.join(", ") || "(none found)"} in ${cacheRoot}`);
    try {
      await seedRipgrepCache(rg, ripgrepVersions, cacheRoot, scratch);
    } catch (error) {
      throw new CodeServerInstallError("ripgrep cache", `cannot install code-server ${version}: step "ripgrep cache" failed: ${(error as Error).message}; ${REMEDY}`);
    }

    // Built from source: its prebuilt binary lives on GitHub.
    await run("argon2", npm, ["rebuild", "argon2", "--no-fund", "--no-audit"], scratch);

    // Run by hand rather than by npm: nested installs inside npm's own lifecycle fail at random (see the script).
    const npmVersion = (await runStep({ step: "postinstall", command: npm, args: ["--version"], cwd: scratch, env, timeoutMs: 60_000 })).trim();
    await run("postinstall", "sh", ["./postinstall.sh"], pkgDir, {
      ...env,
      npm_config_user_agent: `npm/${npmVersion} node/${process.version} ${process.platform} ${process.arch}`,
      npm_config_unsafe_perm: "true",
      npm_config_yes: "true",
    });

    const bin = join(scratch, "node_modules", ".bin", "code-server");
    const printed = await run("verify", bin, ["--version"], scratch);
    if (printed.split(/\s+/)[0] !== version) {
      throw new CodeServerInstallError("verify", `cannot install code-server ${version}: step "verify" failed: \`${bin} --version\` printed ${JSON.stringify(printed.slice(0, 200))}; ${REMEDY}`);
    }

    try {
      // Atomic: a finder sees no install or a complete one.
      await rename(scratch, finalDir);
    } catch (error) {
      throw new CodeServerInstallError("move into place", `cannot install code-server ${version}: step "move into place" failed: ${(error as Error).message}; ${REMEDY}`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Every @vscode/ripgrep version the package's lock files pin (the nested installs of its postinstall use them). */
async function ripgrepVersionsOf(pkgDir: string): Promise<string[]> {
  const versions = new Set<string>();
  for (const dir of [join(pkgDir, "lib", "vscode"), join(pkgDir, "lib", "vscode", "extensions")]) {
    for (const file of ["npm-shrinkwrap.json", "package-lock.json"]) {
      const text = await readFile(join(dir, file), "utf8").catch(() => undefined);
      if (!text) continue;
      const lock = JSON.parse(text) as { packages?: Record<string, { version?: string }> };
      for (const [path, entry] of Object.entries(lock.packages ?? {})) {
        if (path.endsWith("node_modules/@vscode/ripgrep") && entry.version) versions.add(entry.version);
      }
    }
  }
  return [...versions].sort();
}

async function seedRipgrepCache(rg: string, versions: string[], cacheRoot: string, scratch: string) {
  const target = process.arch === "arm64" ? "aarch64-unknown-linux-musl" : "x86_64-unknown-linux-musl";
  const asset = `ripgrep-${RIPGREP_RELEASE}-${target}.tar.gz`;
  const work = join(scratch, ".ripgrep");
  await mkdir(work, { recursive: true });
  await copyFile(rg, join(work, "rg"));
  const tarball = join(work, asset);
  await createTar({ gzip: true, cwd: work, file: tarball, portable: true }, ["rg"]);
  for (const version of versions) {
    const dir = join(cacheRoot, `vscode-ripgrep-cache-${version}`);
    await mkdir(dir, { recursive: true });
    if (await exists(join(dir, asset))) continue;
    const partial = join(dir, `.${asset}.${process.pid}-${randomBytes(4).toString("hex")}`);
    await copyFile(tarball, partial);
    await rename(partial, join(dir, asset));
  }
}

interface Step {
  step: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
  onLine?: (line: string) => void;
}

/** Runs one install step in its own process group; resolves to its stdout, or throws CodeServerInstallError with its output's tail. */
function runStep(step: Step): Promise<string> {
  return new Promise((resolve, reject) => {
    const commandLine = [step.command, ...step.args].join(" ");
    const child = spawn(step.command, step.args, { cwd: step.cwd, env: step.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    const tail: string[] = [];
    const pending = { out: "", err: "" };
    const take = (key: "out" | "err") => (chunk: Buffer) => {
      const text = pending[key] + chunk.toString();
      if (key === "out") stdout = (stdout + chunk.toString()).slice(-10_000);
      const lines = text.split("\n");
      pending[key] = lines.pop() ?? "";
      for (const line of lines) emit(line);
    };
    const emit = (line: string) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 25) tail.shift();
      step.onLine?.(line);
    };
    child.stdout.on("data", take("out"));
    child.stderr.on("data", take("err"));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, step.timeoutMs);
    let settled = false;
    const fail = (cause: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const output = tail.length > 0 ? `; its output ended with:\n${tail.join("\n")}\n` : "; ";
      reject(new CodeServerInstallError(step.step, `cannot install code-server ${CODE_SERVER_VERSION}: step "${step.step}" failed: \`${commandLine}\` ${cause}${output}To fix it: ${REMEDY}`));
    };
    child.once("error", (error) => fail(`could not run (${error.message})`));
    child.once("close", (code, signal) => {
      emit(pending.out);
      emit(pending.err);
      if (timedOut) return fail(`took longer than ${Math.round(step.timeoutMs / 1000)} s`);
      if (code !== 0) return fail(signal ? `was killed by ${signal}` : `exited with ${code}`);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(stdout);
    });
  });
}

function killGroup(pid: number | undefined) {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

interface InstallLock {
  release(): Promise<void>;
}

/**
 * An exclusive-create lock file holding `{ pid, host }`, its mtime refreshed while held. A lock is stale when
 * its holder is a dead process of this host, or when nobody refreshed it for LOCK_STALE_MS (a holder we cannot
 * check: another container's PID namespace). The lock only saves duplicate work: the install's atomic rename
 * keeps the cache consistent even if two agents did install at once.
 */
async function acquireLock(path: string, progress: (line: string) => void): Promise<InstallLock> {
  const me = JSON.stringify({ pid: process.pid, host: hostname() });
  const deadline = Date.now() + LOCK_MAX_WAIT_MS;
  let announced = false;
  for (;;) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(me);
      await handle.close();
      const refresh = setInterval(() => void utimes(path, new Date(), new Date()).catch(() => {}), LOCK_REFRESH_MS);
      refresh.unref();
      return {
        release: async () => {
          clearInterval(refresh);
          // Only our own lock: a waiter may have judged it stale and taken it over.
          if ((await readFile(path, "utf8").catch(() => "")) === me) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new CodeServerInstallError("lock", `cannot install code-server ${CODE_SERVER_VERSION}: cannot create the install lock ${path}: ${(error as Error).message}; ${REMEDY}`);
      }
    }
    const held = await readFile(path, "utf8").catch(() => undefined);
    if (held === undefined) continue;
    const holder = parseHolder(held);
    const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now());
    // An unreadable lock is one being written (or garbage): only its age makes it stale.
    if ((holder?.host === hostname() && !pidAlive(holder.pid)) || age > LOCK_STALE_MS) {
      // Remove it only if it is still the stale one we read (another waiter may have replaced it already).
      if ((await readFile(path, "utf8").catch(() => undefined)) === held) {
        progress(`code-server install: taking over a stale install lock (${holder ? `pid ${holder.pid} on ${holder.host}` : "unreadable"})`);
        await rm(path, { force: true });
      }
      continue;
    }
    if (holder && !announced) {
      progress(`code-server install: waiting for pid ${holder.pid} on ${holder.host}, which is installing code-server ${CODE_SERVER_VERSION}`);
      announced = true;
    }
    if (Date.now() > deadline) {
      throw new CodeServerInstallError("lock", `cannot install code-server ${CODE_SERVER_VERSION}: ${held} has held ${path} for over ${LOCK_MAX_WAIT_MS / 60_000} min; ${REMEDY}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function parseHolder(text: string): { pid: number; host: string } | undefined {
  try {
    const value = JSON.parse(text) as { pid?: unknown; host?: unknown };
    return typeof value.pid === "number" && typeof value.host === "string" ? { pid: value.pid, host: value.host } : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function findOnPath(name: string, pathEnv: string | undefined): Promise<string | undefined> {
  for (const dir of (pathEnv ?? "").split(delimiter).filter(Boolean)) {
    if (await access(join(dir, name), constants.X_OK).then(() => true, () => false)) return join(dir, name);
  }
  return undefined;
}

const exists = (path: string) => access(path).then(() => true, () => false);
