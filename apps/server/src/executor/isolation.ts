/**
 * Per-attempt OS identities for the local executor. As root, every agent runs as its own unprivileged
 * uid/gid (no /etc/passwd entry needed) with a home of its own that only it may enter; the server's data
 * directory, other attempts' homes, their /proc entries and their sockets are then closed to it by the
 * kernel's ordinary permission checks. Without root there is no one to switch to: agents run as the server.
 */
import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { statSync } from "node:fs";
import type { Stats } from "node:fs";
import {
  access,
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

import {
  defaultExtensionsOf,
  defaultIdeDir,
  findCodeServer,
  IDE_RUNTIME,
  installExtensions,
} from "@drydock/agent";

import type { Logger } from "../logger.js";
import { processTable } from "./process-table.js";

/** How the local executor separates attempts from the server and from one another. */
export type IsolationMode = "per-attempt-user" | "none";

/** The uids (and gids, the same numbers) attempts run as: far above any system or login user. */
export const ATTEMPT_ID_RANGE = { first: 600_000, count: 1_000_000 } as const;

/** Where attempts' homes live unless told otherwise: a root-owned directory others may pass but not list. */
export const DEFAULT_HOMES_DIR = join(tmpdir(), "drydock-attempts");

/** The one attempt's identity and the directories only it may write. */
export interface AttemptHome {
  uid: number;
  gid: number;
  /** `<homesDir>/<uid>`, 0700, the attempt's: HOME, and the parent of everything below. */
  dir: string;
  /** The agent's working directory. */
  work: string;
  /** TMPDIR: the session's private dir (code-server and control sockets) lands here. */
  tmp: string;
  /** DRYDOCK_CACHE_DIR: bundles and extension sets, the attempt's own, so no attempt can plant code for another. */
  cache: string;
}

const run = promisify(execFile);

/**
 * Whether `path` can be read by a user that is neither its owner nor in its group: every directory above it
 * lets others pass (o+x) and the path itself lets them read (o+r, and o+x for a directory).
 */
export function readableByOthers(path: string): boolean {
  return othersMay(path, (stat) => (stat.isDirectory() ? 0o005 : 0o004));
}

/** Whether a user that is neither owner nor in the group can pass through the directory `dir` (o+x all the way). */
function passableByOthers(dir: string): boolean {
  return othersMay(dir, () => 0o001);
}

function othersMay(path: string, needed: (stat: Stats) => number): boolean {
  const full = resolve(path);
  try {
    for (let dir = dirname(full); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (dir === dirname(dir)) break;
    }
    const stat = statSync(full);
    const bits = needed(stat);
    return (stat.mode & bits) === bits;
  } catch {
    return false;
  }
}

/**
 * The isolation this process can give its agents: per-attempt users when it is root and everything the
 * agent runs (`needed`: node, the agent's entry) can be read by those users; otherwise none, with why.
 */
export function isolationSupport(
  needed: readonly string[],
  uid = process.getuid?.(),
): { mode: IsolationMode; reason?: string } {
  if (uid !== 0)
    return {
      mode: "none",
      reason:
        "the server does not run as root, so it cannot give each attempt its own user: tasks and IDEs can read the data directory and each other's tokens; run it as root for isolation, and only for a single user otherwise",
    };
  const unreadable = needed.filter((path) => !readableByOthers(path));
  if (unreadable.length > 0)
    return {
      mode: "none",
      reason: `agents would run as their own users, but these cannot read ${unreadable.join(", ")} (a directory above them is closed to others); attempts run as root, unisolated, until they can`,
    };
  return { mode: "per-attempt-user" };
}

/** Every uid a live process runs as (real, effective, saved, filesystem), from /proc. */
async function uidsInUse(): Promise<Set<number>> {
  const used = new Set<number>();
  for (const { uids } of (await processTable()).values()) for (const id of uids) used.add(id);
  return used;
}

/** The real uid of a process (from /proc), or undefined when it is gone (or a zombie, which holds nothing). */
export async function uidOf(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  if (/^State:\s+[ZX]/m.test(status)) return undefined;
  const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  return real === undefined ? undefined : Number(real);
}

/** SIGKILLs every process running as `uid`, again until none is left (one may fork while we look). */
async function killEveryProcessOf(uid: number): Promise<void> {
  for (let pass = 0; pass < 10; pass++) {
    const pids: number[] = [];
    for (const [pid, found] of await processTable())
      if (!found.zombie && found.uids[0] === uid) pids.push(pid);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    await sleep(20);
  }
}

export const isAttemptUid = (uid: number): boolean =>
  uid >= ATTEMPT_ID_RANGE.first && uid < ATTEMPT_ID_RANGE.first + ATTEMPT_ID_RANGE.count;

/**
 * Makes `dir` the root of attempts' homes: a real directory (not a link) owned by root, mode 0711, so every
 * attempt can pass through to its own home while none can list the others. A directory someone else owns
 * (another user may create it first in a shared /tmp) is refused, never used.
 */
export async function prepareHomesDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const stat = await lstat(dir);
  if (!stat.isDirectory() || stat.uid !== 0)
    throw new Error(
      `cannot keep attempts' homes in ${dir}: it is ${stat.isDirectory() ? `owned by uid ${stat.uid}` : "not a directory"}, not a directory of root's; remove it or choose another place`,
    );
  await chmod(dir, 0o711);
  if (!passableByOthers(dir))
    throw new Error(
      `cannot keep attempts' homes in ${dir}: a directory above it is closed to other users, so attempts could not reach their homes`,
    );
}

/** A directory owned by the attempt's uid and only its (0700). */
async function ownedDir(path: string, id: number): Promise<void> {
  await mkdir(path, { mode: 0o700 });
  await chown(path, id, id);
  await chmod(path, 0o700);
}

/** The name of the IDE runtime's directory in an IDE directory, as the agent looks it up. */
const runtimeName = () => `code-server-${IDE_RUNTIME.codeServer}-node-${IDE_RUNTIME.node.version}`;

/**
 * Hands out attempts' identities and homes under one homes directory, and finds an IDE runtime they can
 * run (see `ideDir`). One per executor; the homes directory may be shared with other servers on the machine,
 * which is why identities are picked free machine-wide rather than counted.
 */
export class AttemptHomes {
  private readonly taken = new Set<number>();
  private ready?: Promise<void>;
  private sharedIde?: Promise<string | undefined>;
  private sharedExtensions?: Promise<string | undefined>;

  readonly root: string;

  constructor(
    root: string,
    private readonly log: Logger,
  ) {
    this.root = resolve(root);
  }

  /** A new identity, none of whose uid any process runs as, with its home made and given to it. */
  async create(): Promise<AttemptHome> {
    // Prepared once; a failure (someone else's directory in the way) is said again at the next launch.
    this.ready ??= prepareHomesDir(this.root).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
    const used = await uidsInUse();
    for (let turn = 0; turn < 50; turn++) {
      const id = ATTEMPT_ID_RANGE.first + randomInt(ATTEMPT_ID_RANGE.count);
      if (used.has(id) || this.taken.has(id)) continue;
      const dir = join(this.root, String(id));
      try {
        await mkdir(dir, { mode: 0o700 });
      } catch (error) {
        // A home left by an agent that died while no server watched it: that uid is not free yet.
        if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw error;
      }
      this.taken.add(id);
      const home = { uid: id, gid: id, dir, ...this.layout(dir) };
      for (const sub of [home.work, home.tmp, home.cache]) await ownedDir(sub, id);
      await chown(dir, id, id);
      return home;
    }
    throw new Error(`no free attempt uid found in ${ATTEMPT_ID_RANGE.first}+ after 50 tries`);
  }

  private layout(dir: string): Pick<AttemptHome, "work" | "tmp" | "cache"> {
    return { work: join(dir, "work"), tmp: join(dir, "tmp"), cache: join(dir, "cache") };
  }

  /** The home of a running agent (an adopted one), from the uid it runs as; undefined when it has none. */
  async homeOf(pid: number): Promise<string | undefined> {
    const uid = await uidOf(pid);
    if (uid === undefined || !isAttemptUid(uid)) return undefined;
    this.taken.add(uid);
    return join(this.root, String(uid));
  }

  /** Whether `dir` is an attempt's home under this root. */
  owns(dir: string): boolean {
    return dirname(dir) === this.root && /^\d+$/.test(basename(dir));
  }

  /**
   * Ends what still runs as an ended attempt's user (what left its process group, e.g. through setsid), then
   * removes its home with everything in it; its uid may be handed out again.
   */
  async remove(dir: string): Promise<void> {
    if (!this.owns(dir)) throw new Error(`${dir} is not an attempt's home under ${this.root}`);
    const uid = Number(basename(dir));
    await killEveryProcessOf(uid);
    await rm(dir, { recursive: true, force: true });
    this.taken.delete(uid);
  }

  /**
   * The environment an isolated agent starts with: the configured one, with its own HOME, TMPDIR and cache,
   * and an IDE directory it can read. Variables pointing into the server's user's files (XDG_*) are dropped.
   */
  async agentEnv(home: AttemptHome, env: Record<string, string>): Promise<Record<string, string>> {
    const own = Object.fromEntries(
      Object.entries(env).filter(([key]) => !key.startsWith("XDG_") && key !== "DRYDOCK_IDE_DIR"),
    );
    const ideDir = await this.ideDir(env);
    const extensions = ideDir ? await this.extensionsFor(env, ideDir) : undefined;
    return {
      ...own,
      HOME: home.dir,
      TMPDIR: home.tmp,
      DRYDOCK_CACHE_DIR: home.cache,
      ...(ideDir ? { DRYDOCK_IDE_DIR: ideDir } : {}),
      ...(extensions ? { DRYDOCK_SHARED_EXTENSIONS: extensions } : {}),
    };
  }

  /**
   * A cache holding the default extensions installed, which agents read and copy (a set is a few small files)
   * instead of each installing them: two code-server calls, 2–3 s of every session's start. Installed once per
   * executor, by root, in `<homes>/extensions`: no attempt's user may write there, so none can plant an
   * extension in another's IDE. Undefined when there are none or they cannot be installed: agents install
   * their own then, and say why in the task log.
   */
  private extensionsFor(env: Record<string, string>, ideDir: string): Promise<string | undefined> {
    this.sharedExtensions ??= this.installSharedExtensions(env, ideDir);
    return this.sharedExtensions;
  }

  private async installSharedExtensions(
    env: Record<string, string>,
    ideDir: string,
  ): Promise<string | undefined> {
    const extensions = defaultExtensionsOf(env);
    if (extensions.length === 0) return undefined;
    const cacheDir = join(this.root, "extensions");
    const scratch = await mkdtemp(join(tmpdir(), "drydock-extensions-"));
    try {
      await mkdir(cacheDir, { recursive: true, mode: 0o755 });
      await chmod(cacheDir, 0o755);
      const { installed, problems } = await installExtensions({
        bin: await findCodeServer({ ideDir }),
        extensions,
        cacheDir,
        userDataDir: join(scratch, "data"),
        env: { PATH: env.PATH ?? "", HOME: scratch, TMPDIR: scratch },
      });
      // The server's umask (077) made it root's only.
      await run("chmod", ["-R", "a+rX,go-w", cacheDir]);
      if (problems.length > 0)
        this.log.warn({ problems }, "some default extensions could not be installed for attempts");
      this.log.info({ cacheDir, installed }, "the default extensions are installed for attempts");
      return cacheDir;
    } catch (error) {
      this.log.warn(
        { err: error },
        "could not install the default extensions for attempts: each session installs its own",
      );
      return undefined;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /**
   * An IDE directory agents can read holding the installed runtime: the configured one when others can read
   * it, else a copy made of hard links under the homes directory (the usual install sits in root's cache,
   * which no one else may enter). Undefined when the runtime is not installed yet: the agent then installs
   * one in its own home.
   */
  private async ideDir(env: Record<string, string>): Promise<string | undefined> {
    const source = defaultIdeDir(env);
    if (readableByOthers(join(source, runtimeName()))) return source;
    this.sharedIde ??= this.shareIde(source);
    const shared = await this.sharedIde;
    // Not installed yet (`drydock up` installs it in the background): look again at the next launch.
    if (!shared) this.sharedIde = undefined;
    return shared;
  }

  private async shareIde(source: string): Promise<string | undefined> {
    const target = join(this.root, "ide");
    const runtime = join(target, runtimeName());
    if (await exists(runtime)) return target;
    if (!(await exists(join(source, runtimeName(), "bin", "code-server")))) return undefined;
    try {
      await mkdir(target, { recursive: true, mode: 0o755 });
      await chmod(target, 0o755);
      await copyTree(join(source, runtimeName()), runtime);
      this.log.info({ source, shared: target }, "the IDE runtime is shared with attempts' users");
      return target;
    } catch (error) {
      this.log.warn(
        { err: error, source },
        "could not share the IDE runtime with attempts' users: each session installs its own",
      );
      return undefined;
    }
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Files of the IDE runtime every session reads: when others may read them, hard links to them suffice. */
const RUNTIME_FILES = ["bin/code-server", "node/bin/node", "node_modules/code-server/package.json"];

/**
 * Copies the runtime `from` to `to` keeping owners: hard links where its files are readable by others and
 * the file system allows (instant, no space), else a real copy made readable (a runtime installed under a
 * private umask); into a scratch name first, so `to` never exists half-made.
 */
async function copyTree(from: string, to: string): Promise<void> {
  const scratch = `${to}.${process.pid}.tmp`;
  // Its own mode bits only: the directories above it (root's home) are closed, the copy's will not be.
  const linkable = RUNTIME_FILES.every((file) => {
    try {
      return (statSync(join(from, file)).mode & 0o004) !== 0;
    } catch {
      return false;
    }
  });
  await rm(scratch, { recursive: true, force: true });
  try {
    const linked =
      linkable &&
      (await run("cp", ["-al", from, scratch]).then(
        () => true,
        () => false,
      ));
    if (!linked) {
      await rm(scratch, { recursive: true, force: true });
      await run("cp", ["-a", from, scratch]);
      await run("chmod", ["-R", "a+rX,go-w", scratch]);
    }
    await rename(scratch, to).catch((error: NodeJS.ErrnoException) => {
      // Another server made it meanwhile: theirs is complete.
      if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
