/**
 * The IDE runtime's provisioning: code-server and the Node it runs on (runtime.ts), installed once per machine
 * into `<ideDir>/<runtime>/` from the npm registry, as the user the agent runs as. No root is needed where the
 * machine can build native modules (a C/C++ compiler, make, python3); as root on Debian, what is missing is
 * installed with apt-get first, as `pnpm test` does. Everything else comes from the registry: Node as the
 * `node-linux-<arch>` package (checked against its pinned integrity), ripgrep inside code-server's own
 * dependencies (`@vscode/ripgrep-universal`).
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import {
  access,
  chmod,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { hostname } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";

import { extract } from "tar";

import { pidAlive } from "../process-group.js";
import { CodeServerMissingError, findCodeServer } from "./code-server.js";
import { IDE_RUNTIME, PROVISION_COMMAND, runtimeDir, runtimeName } from "./runtime.js";

const VERSION = IDE_RUNTIME.codeServer;

export class CodeServerInstallError extends Error {
  override name = "CodeServerInstallError";
  constructor(
    /** The step that failed: `lock`, `build tools`, `node runtime`, `npm install`, `argon2`, `vscode modules`, `native modules`, `sqlite3`, `extensions`, `verify`, `move into place`. */
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

export interface EnsureCodeServerOptions {
  /** The machine's IDE directory (runtime.ts defaultIdeDir); the runtime goes to `<ideDir>/<runtime>/`. */
  ideDir: string;
  /** Progress, one line a step, and every 15 s while a step runs. */
  onProgress?: (line: string) => void;
  /** What the install's commands print, line by line (the task log keeps it; a terminal may not want it). */
  onOutput?: (line: string) => void;
  /** The npm to install with (default `npm` on PATH); it runs on the runtime's Node. */
  npmBin?: string;
  /** Environment of the install's commands (PATH, HOME, …: the agent's). npm_config_* variables here steer npm. */
  env: Record<string, string | undefined>;
  /** Per-step time limit (default 20 min). */
  stepTimeoutMs?: number;
  /** May install missing build tools with apt-get when running as root (default true). */
  systemPackages?: boolean;
  /** Where the Kerberos (GSSAPI) headers may be; kerberos, an optional native module, is built only if one is there. */
  kerberosHeaders?: string[];
}

/** How long a lock survives a holder that stopped refreshing it (another host or PID namespace, a frozen agent). */
const LOCK_STALE_MS = 120_000;
const LOCK_REFRESH_MS = 10_000;
const LOCK_MAX_WAIT_MS = 45 * 60_000;
const TICK_MS = 15_000;

/**
 * The path of a runnable code-server of the pinned version (its launcher), installed into the IDE directory
 * first if it is not there (once per machine: concurrent agents wait for the one that installs).
 * Throws CodeServerInstallError, naming the failed step, what it ran and printed, and the fix.
 */
export async function ensureCodeServer(options: EnsureCodeServerOptions): Promise<string> {
  const found = await findOrUndefined(options.ideDir);
  if (found) return found;

  const progress = options.onProgress ?? (() => {});
  const finalDir = runtimeDir(options.ideDir);
  await mkdir(options.ideDir, { recursive: true });
  const lock = await acquireLock(join(options.ideDir, `${runtimeName()}.lock`), progress);
  try {
    // Whoever held the lock before us may have installed it.
    const installedMeanwhile = await findOrUndefined(options.ideDir);
    if (installedMeanwhile) return installedMeanwhile;
    await removeLeftovers(options.ideDir);
    const started = Date.now();
    progress(
      `installing code-server ${VERSION} on Node ${IDE_RUNTIME.node.version} into ${finalDir} (once per machine, about 2 minutes)`,
    );
    await install(options, finalDir, progress);
    const bin = await findOrUndefined(options.ideDir);
    if (!bin)
      throw new CodeServerInstallError(
        "verify",
        `code-server ${VERSION} was installed into ${finalDir} but is not runnable there; ${retry()}`,
      );
    progress(
      `code-server ${VERSION} installed in ${Math.round((Date.now() - started) / 1000)} s: ${bin}`,
    );
    return bin;
  } finally {
    await lock.release();
  }
}

async function findOrUndefined(ideDir: string): Promise<string | undefined> {
  try {
    return await findCodeServer({ ideDir });
  } catch (error) {
    if (error instanceof CodeServerMissingError) return undefined;
    throw error;
  }
}

const retry = () => `run \`${PROVISION_COMMAND}\` to try again with its output on the terminal`;

/** Partial installs of agents that died mid-way (we hold the lock, so none is in progress) and a broken final dir. */
async function removeLeftovers(ideDir: string) {
  const name = runtimeName();
  for (const entry of await readdir(ideDir)) {
    if (entry.startsWith(`.${name}.partial-`) || entry === name)
      await rm(join(ideDir, entry), { recursive: true, force: true });
  }
}

async function install(
  options: EnsureCodeServerOptions,
  finalDir: string,
  progress: (line: string) => void,
) {
  const npm = options.npmBin ?? "npm";
  const baseEnv = options.env;
  const timeoutMs = options.stepTimeoutMs ?? 20 * 60_000;
  const scratch = join(
    dirname(finalDir),
    `.${runtimeName()}.partial-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  const nodeDir = join(scratch, "node");
  const pkgDir = join(scratch, "node_modules", "code-server");
  const vscodeDir = join(pkgDir, "lib", "vscode");
  // Everything below runs on the runtime's Node: npm, node-gyp (against its headers) and the packages' scripts.
  const env: Record<string, string | undefined> = {
    ...baseEnv,
    PATH: [join(nodeDir, "bin"), baseEnv.PATH].filter(Boolean).join(delimiter),
    npm_config_nodedir: nodeDir,
    // node-gyp: compile on every core.
    JOBS: "max",
  };
  const run: Run = (step, command, args, cwd, stepEnv = env, signal) => {
    const began = Date.now();
    progress(`code-server install: ${step}: ${[command, ...args].join(" ")}`);
    return runStep({
      step,
      command,
      args,
      cwd,
      env: stepEnv,
      signal,
      timeoutMs,
      onLine: options.onOutput,
      onTick: (seconds) => progress(`  … ${step} (${seconds} s)`),
    }).then((stdout) => {
      progress(
        `code-server install: ${step}: done in ${((Date.now() - began) / 1000).toFixed(1)} s`,
      );
      return stdout;
    });
  };

  try {
    const kerberos = await ensureBuildTools(options, baseEnv, progress, timeoutMs);
    await mkdir(scratch, { recursive: true });
    await installNode(run, npm, baseEnv, scratch, nodeDir);
    await installCodeServerPackage(run, npm, scratch, pkgDir, kerberos);
    await verify(run, scratch, vscodeDir, env);
    try {
      // Atomic: a finder sees no install or a complete one.
      await rename(scratch, finalDir);
    } catch (error) {
      throw new CodeServerInstallError(
        "move into place",
        `cannot install code-server ${VERSION}: step "move into place" failed: ${(error as Error).message}; ${retry()}`,
      );
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * code-server from the registry into `scratch`, its native modules built for the runtime's Node (kerberos only
 * when `kerberos`: its headers are there), and the links and launcher a finder expects.
 */
async function installCodeServerPackage(
  run: Run,
  npm: string,
  scratch: string,
  pkgDir: string,
  kerberos: boolean,
): Promise<void> {
  const vscodeDir = join(pkgDir, "lib", "vscode");
  await run(
    "npm install",
    npm,
    [
      "install",
      "--prefix",
      scratch,
      "--ignore-scripts",
      "--no-fund",
      "--no-audit",
      `code-server@${VERSION}`,
    ],
    scratch,
  );
  await run("argon2", npm, ["rebuild", "argon2", "--no-fund", "--no-audit"], scratch);

  // code-server's postinstall.sh, step by step, so that an optional native module (kerberos: only for
  // Kerberos proxy sign-in) can be left out on a machine without its headers instead of failing the install.
  await run(
    "vscode modules",
    npm,
    ["install", "--omit=dev", "--ignore-scripts", "--no-fund", "--no-audit"],
    vscodeDir,
  );
  const native = (await nativeModules(vscodeDir)).filter((name) => kerberos || name !== "kerberos");
  // SQLite is one C file of 9 MB: a minute on one core, however many node-gyp is given. It builds in its own
  // npm beside the other modules and the extensions (npm builds one package at a time on 2 cores), which
  // saves what they take (about 20 s on 2 cores).
  const rebuild = (names: string[]) => [
    "rebuild",
    "--foreground-scripts",
    "--no-fund",
    "--no-audit",
    ...names,
  ];
  const apart = native.filter((name) => name === SQLITE);
  const others = native.filter((name) => name !== SQLITE);
  await together([
    async (signal) => {
      if (apart.length > 0) await run("sqlite3", npm, rebuild(apart), vscodeDir, undefined, signal);
    },
    async (signal) => {
      if (others.length > 0)
        await run("native modules", npm, rebuild(others), vscodeDir, undefined, signal);
      await run(
        "extensions",
        npm,
        ["install", "--omit=dev", "--no-fund", "--no-audit"],
        join(vscodeDir, "extensions"),
        undefined,
        signal,
      );
    },
  ]);
  await linkAnew("code-linux.sh", join(vscodeDir, "bin", "remote-cli", "code-server"));
  await linkAnew("browser-linux.sh", join(vscodeDir, "bin", "helpers", "browser.sh"));
  // Where code-server's own scripts (the terminal's `code-server` CLI) look for their Node.
  await linkAnew(join("..", "..", "..", "node", "bin", "node"), join(pkgDir, "lib", "node"));
  await writeLauncher(scratch);
}

type Run = (
  step: string,
  command: string,
  args: string[],
  cwd: string,
  stepEnv?: Record<string, string | undefined>,
  /** Aborted: the step's process group is killed and the step fails. */
  signal?: AbortSignal,
) => Promise<string>;

const SQLITE = "@vscode/sqlite3";

/**
 * Runs `jobs` at once. When one fails, the others are stopped (their steps' processes killed) and awaited,
 * so that nothing is left writing into the scratch directory, and the first failure is thrown.
 */
export async function together(jobs: ((signal: AbortSignal) => Promise<void>)[]): Promise<void> {
  const stop = new AbortController();
  let first: { error: unknown } | undefined;
  await Promise.all(
    jobs.map((job) =>
      job(stop.signal).catch((error: unknown) => {
        first ??= { error };
        stop.abort();
      }),
    ),
  );
  if (first) throw first.error;
}

/** The pinned Node from the registry (`npm pack`, so the user's registry, proxy and CA settings apply), its integrity checked. */
async function installNode(
  run: Run,
  npm: string,
  baseEnv: Record<string, string | undefined>,
  scratch: string,
  nodeDir: string,
) {
  const { version, packages } = IDE_RUNTIME.node;
  const pinned = packages[process.arch];
  if (process.platform !== "linux" || !pinned) {
    throw new CodeServerInstallError(
      "node runtime",
      `cannot install code-server ${VERSION}: the registry's Node ${version} is pinned for Linux on ${Object.keys(packages).join(" and ")}, not ${process.platform} ${process.arch}`,
    );
  }
  await run(
    "node runtime",
    npm,
    ["pack", `${pinned.name}@${version}`, "--pack-destination", scratch],
    scratch,
    baseEnv,
  );
  const tarball = join(scratch, `${pinned.name}-${version}.tgz`);
  const hash = createHash("sha512");
  await pipeline(createReadStream(tarball), hash);
  const integrity = `sha512-${hash.digest("base64")}`;
  if (integrity !== pinned.integrity) {
    throw new CodeServerInstallError(
      "node runtime",
      `cannot install code-server ${VERSION}: ${pinned.name}@${version} from the registry has integrity ${integrity}, not the pinned ${pinned.integrity}; nothing was installed`,
    );
  }
  await mkdir(nodeDir);
  await extract({ file: tarball, cwd: nodeDir, strip: 1 });
  await rm(tarball);
  const printed = (
    await run("node runtime", join(nodeDir, "bin", "node"), ["--version"], scratch)
  ).trim();
  if (printed !== `v${version}`)
    throw new CodeServerInstallError(
      "node runtime",
      `cannot install code-server ${VERSION}: ${pinned.name}@${version} runs as ${JSON.stringify(printed)}`,
    );
}

/** The native modules VS Code's own manifest allows to build (`allowScripts`), of those npm installed here. */
async function nativeModules(vscodeDir: string): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(vscodeDir, "package.json"), "utf8")) as {
    allowScripts?: Record<string, boolean>;
  };
  const names = Object.entries(manifest.allowScripts ?? {})
    .filter(([, allowed]) => allowed)
    .map(([spec]) => (spec.lastIndexOf("@") > 0 ? spec.slice(0, spec.lastIndexOf("@")) : spec));
  const present = await Promise.all(
    names.map((name) => exists(join(vscodeDir, "node_modules", name, "package.json"))),
  );
  return names.filter((_, i) => present[i]);
}

/** A symbolic link at `path` to `target`, replacing what is there (as code-server's postinstall.sh does). */
async function linkAnew(target: string, path: string) {
  await rm(path, { recursive: true, force: true });
  await symlink(target, path);
}

/** `bin/code-server`: code-server on the runtime's Node, from wherever it is called. */
async function writeLauncher(scratch: string) {
  const launcher = join(scratch, "bin", "code-server");
  await mkdir(dirname(launcher));
  await writeFile(
    launcher,
    [
      "#!/bin/sh",
      `# code-server ${VERSION} on Node ${IDE_RUNTIME.node.version}, installed by the Drydock agent.`,
      'dir="$(dirname "$(dirname "$(readlink -f "$0")")")"',
      'exec "$dir/node/bin/node" "$dir/node_modules/code-server/out/node/entry.js" "$@"',
      "",
    ].join("\n"),
  );
  await chmod(launcher, 0o755);
}

/** It starts and says its version, and its search (ripgrep, from the registry) runs. */
async function verify(
  run: Run,
  scratch: string,
  vscodeDir: string,
  env: Record<string, string | undefined>,
) {
  // Its first start writes a config file into HOME: keep that out of the user's home.
  const home = join(scratch, ".verify-home");
  await mkdir(home);
  const printed = await run("verify", join(scratch, "bin", "code-server"), ["--version"], scratch, {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: home,
    XDG_DATA_HOME: home,
  });
  // It may log a line first (its config file written): the version is a line of its own.
  if (!printed.split("\n").some((line) => line.split(" ")[0] === VERSION)) {
    throw new CodeServerInstallError(
      "verify",
      `cannot install code-server ${VERSION}: step "verify" failed: its launcher printed ${JSON.stringify(printed.slice(0, 200))}; ${retry()}`,
    );
  }
  const rg = join(
    vscodeDir,
    "node_modules",
    "@vscode",
    "ripgrep-universal",
    "bin",
    `linux-${process.arch}`,
    "rg",
  );
  await run("verify", rg, ["--version"], scratch);
  await rm(home, { recursive: true, force: true });
}

interface BuildTool {
  what: string;
  commands: string[];
  /** Debian's package for it. */
  debian: string;
}

const BUILD_TOOLS: BuildTool[] = [
  { what: "a C compiler", commands: ["cc", "gcc"], debian: "gcc" },
  { what: "a C++ compiler", commands: ["c++", "g++"], debian: "g++" },
  { what: "make", commands: ["make"], debian: "make" },
  { what: "python3 (node-gyp)", commands: ["python3"], debian: "python3" },
];
const KERBEROS_HEADERS = ["/usr/include/gssapi/gssapi.h", "/usr/include/gssapi.h"];

/**
 * code-server's native modules are built on this machine. Checks the tools; as root with apt-get, installs what
 * is missing (and the Kerberos headers); otherwise names what is missing and the command that installs it.
 * Resolves to whether the Kerberos headers are there (kerberos, an optional module, is built only then).
 */
async function ensureBuildTools(
  options: EnsureCodeServerOptions,
  env: Record<string, string | undefined>,
  progress: (line: string) => void,
  timeoutMs: number,
): Promise<boolean> {
  const missingTools = async () => {
    const found = await Promise.all(
      BUILD_TOOLS.map(async (tool) =>
        (await Promise.all(tool.commands.map((c) => findOnPath(c, env.PATH)))).some(Boolean),
      ),
    );
    return BUILD_TOOLS.filter((_, i) => !found[i]);
  };
  const hasKerberos = async () =>
    (await Promise.all((options.kerberosHeaders ?? KERBEROS_HEADERS).map(exists))).some(Boolean);
  let missing = await missingTools();
  let kerberos = await hasKerberos();
  const apt = await findOnPath("apt-get", env.PATH);
  const canInstall =
    options.systemPackages !== false && process.getuid?.() === 0 && apt !== undefined;
  const packages = [...missing.map((tool) => tool.debian), ...(kerberos ? [] : ["libkrb5-dev"])];
  if (packages.length > 0 && canInstall) {
    progress(
      `installing what code-server's native modules are built with, as root, with apt-get: ${packages.join(" ")}`,
    );
    const aptEnv = { ...env, DEBIAN_FRONTEND: "noninteractive" };
    const step = (args: string[]) =>
      runStep({
        step: "build tools",
        command: apt,
        args,
        cwd: "/",
        env: aptEnv,
        timeoutMs,
        onLine: options.onOutput,
        onTick: (s) => progress(`  … apt-get (${s} s)`),
      });
    await step(["update", "-qq"]);
    await step(["install", "-y", "-qq", "--no-install-recommends", ...packages]);
    missing = await missingTools();
    kerberos = await hasKerberos();
  }
  if (missing.length > 0) {
    const fix = apt
      ? `sudo apt-get install -y ${missing.map((tool) => tool.debian).join(" ")}`
      : `install ${missing.map((tool) => tool.what).join(", ")} with the system's package manager`;
    throw new CodeServerInstallError(
      "build tools",
      `cannot install code-server ${VERSION}: its native modules are built on this machine, which lacks ${missing.map((tool) => tool.what).join(", ")}. To fix it: ${fix}`,
    );
  }
  if (!kerberos)
    progress(
      "no Kerberos (GSSAPI) headers here: code-server is built without its optional Kerberos proxy sign-in (libkrb5-dev adds it)",
    );
  return kerberos;
}

interface Step {
  step: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
  onLine?: (line: string) => void;
  /** Called every TICK_MS while it runs, with the seconds it has taken. */
  onTick?: (seconds: number) => void;
  /** Aborted: its process group is killed. */
  signal?: AbortSignal;
}

/** Runs one install step in its own process group; resolves to its stdout, or throws CodeServerInstallError with its output's tail. */
function runStep(step: Step): Promise<string> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const ticker = setInterval(
      () => step.onTick?.(Math.round((Date.now() - started) / 1000)),
      TICK_MS,
    );
    const commandLine = [step.command, ...step.args].join(" ");
    if (step.signal?.aborted) {
      clearInterval(ticker);
      return reject(
        new CodeServerInstallError(
          step.step,
          `step "${step.step}" not started: a step beside it failed`,
        ),
      );
    }
    const child = spawn(step.command, step.args, {
      cwd: step.cwd,
      env: step.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
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
      // node-gyp's chatter ("gyp info spawn args …") would bury what matters in the task log.
      if (!line.startsWith("gyp info")) step.onLine?.(line);
    };
    child.stdout.on("data", take("out"));
    child.stderr.on("data", take("err"));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, step.timeoutMs);
    const stop = () => killGroup(child.pid);
    step.signal?.addEventListener("abort", stop, { once: true });
    let settled = false;
    const fail = (cause: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(ticker);
      step.signal?.removeEventListener("abort", stop);
      const output = tail.length > 0 ? `; its output ended with:\n${tail.join("\n")}\n` : ". ";
      reject(
        new CodeServerInstallError(
          step.step,
          `cannot install code-server ${VERSION}: step "${step.step}" failed: \`${commandLine}\` ${cause}${output}Then ${retry()}.`,
        ),
      );
    };
    child.once("error", (error) => fail(`could not run (${error.message})`));
    child.once("close", (code, signal) => {
      emit(pending.out);
      emit(pending.err);
      if (timedOut) return fail(`took longer than ${Math.round(step.timeoutMs / 1000)} s`);
      if (step.signal?.aborted) return fail("was stopped: a step beside it failed");
      if (code !== 0) return fail(signal ? `was killed by ${signal}` : `exited with ${code}`);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(ticker);
      step.signal?.removeEventListener("abort", stop);
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
      const refresh = setInterval(
        () => void utimes(path, new Date(), new Date()).catch(() => {}),
        LOCK_REFRESH_MS,
      );
      refresh.unref();
      return {
        release: async () => {
          clearInterval(refresh);
          // Only our own lock: a waiter may have judged it stale and taken it over.
          if ((await readFile(path, "utf8").catch(() => "")) === me)
            await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new CodeServerInstallError(
          "lock",
          `cannot install code-server ${VERSION}: cannot create the install lock ${path}: ${(error as Error).message}; ${retry()}`,
        );
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
        progress(
          `code-server install: taking over a stale install lock (${holder ? `pid ${holder.pid} on ${holder.host}` : "unreadable"})`,
        );
        await rm(path, { force: true });
      }
      continue;
    }
    if (holder && !announced) {
      progress(
        `code-server install: waiting for pid ${holder.pid} on ${holder.host}, which is installing code-server ${VERSION}`,
      );
      announced = true;
    }
    if (Date.now() > deadline) {
      throw new CodeServerInstallError(
        "lock",
        `cannot install code-server ${VERSION}: ${held} has held ${path} for over ${LOCK_MAX_WAIT_MS / 60_000} min; ${retry()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function parseHolder(text: string): { pid: number; host: string } | undefined {
  try {
    const value = JSON.parse(text) as { pid?: unknown; host?: unknown };
    return typeof value.pid === "number" && typeof value.host === "string"
      ? { pid: value.pid, host: value.host }
      : undefined;
  } catch {
    return undefined;
  }
}

async function findOnPath(name: string, pathEnv: string | undefined): Promise<string | undefined> {
  for (const dir of (pathEnv ?? "").split(delimiter).filter(Boolean)) {
    if (
      await access(join(dir, name), constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return join(dir, name);
  }
  return undefined;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
