/**
 * Bundles extracted once on this machine and put in isolated agents' own caches as hard links before they
 * start, so an agent finds its bundle in place (`<cache>/bundles/<sha256>`, where its bundle cache looks first)
 * instead of downloading, verifying and extracting it: with Node's start and its own code, that was most of
 * what a cold agent costs, and each isolated agent paid it again.
 *
 * Why this does not let one attempt reach another's code:
 * - The shelf (`<homes>/bundles-<pid>`) is root's and closed (0700): an attempt's user reaches a shelved file
 *   only through the link in its own home, which no other attempt may enter.
 * - The files are root's, read-only to everyone else: an attempt may read its bundle and add files beside it,
 *   but it cannot change a file that another attempt's home (or the shelf) links to — that would plant code in
 *   the other attempt. The directories are the attempt's, as when its agent extracts the bundle itself.
 * Where any of it cannot be done (the shelf on another file system, a tarball that does not match its sha256),
 * nothing is placed and the agent downloads its bundle as before.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, chown, link, mkdir, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

import { extractBundle } from "@drydock/agent";
import { pidAlive } from "@drydock/agent/process-group";

import type { Logger } from "../logger.js";

/** How many bundles the shelf keeps: the least recently placed goes first (its placed links stay valid). */
const KEPT_BUNDLES = 32;

export interface BundleShelfOptions {
  /** The shelf's directory: root's, on the file system of the homes it links into. */
  root: string;
  /** A bundle's tarball, by its sha256 (the blob store's). */
  tarball: (sha256: string) => Promise<Buffer>;
  log: Logger;
}

/** A shelved bundle: where it is, and its directories and files (relative, parents first). */
interface Shelved {
  dir: string;
  dirs: string[];
  files: string[];
}

export class BundleShelf {
  private readonly shelved = new Map<string, Promise<Shelved | undefined>>();
  /** Done once, before the first bundle is shelved: the shelves crashed servers left are removed. */
  private prepared: Promise<void> | undefined;

  constructor(private readonly opts: BundleShelfOptions) {}

  /**
   * Puts bundle `sha256` in `<cacheDir>/bundles/<sha256>` for the attempt's user `owner`, whole or not at all
   * (made under a scratch name, then renamed); false when it could not, and the agent then downloads it.
   */
  async placeIn(
    cacheDir: string,
    sha256: string,
    owner: { uid: number; gid: number },
  ): Promise<boolean> {
    if (!/^[a-f0-9]{64}$/.test(sha256)) return false;
    const bundle = await this.shelve(sha256);
    if (!bundle) return false;
    const bundles = join(cacheDir, "bundles");
    const scratch = join(bundles, `.placing-${randomBytes(4).toString("hex")}`);
    try {
      await ownDir(bundles, owner);
      await ownDir(scratch, owner);
      for (const dir of bundle.dirs) await ownDir(join(scratch, dir), owner);
      for (const file of bundle.files) await link(join(bundle.dir, file), join(scratch, file));
      await rename(scratch, join(bundles, sha256));
      return true;
    } catch (error) {
      this.opts.log.warn(
        { err: error, bundle: sha256, cacheDir },
        "could not place the bundle in the agent's cache: it downloads it",
      );
      await rm(scratch, { recursive: true, force: true });
      return false;
    }
  }

  /** Removes the shelf (the links placed from it stay valid: they are the files' other names). */
  async clear(): Promise<void> {
    this.shelved.clear();
    await rm(this.opts.root, { recursive: true, force: true });
  }

  /** The bundle on the shelf, extracted on first use (and verified against its sha256); undefined if it cannot be. */
  private shelve(sha256: string): Promise<Shelved | undefined> {
    let shelved = this.shelved.get(sha256);
    if (shelved) {
      // Most recently used last: the first in the map is the one to evict.
      this.shelved.delete(sha256);
      this.shelved.set(sha256, shelved);
      return shelved;
    }
    shelved = this.extract(sha256).catch((error: unknown) => {
      this.shelved.delete(sha256);
      this.opts.log.warn(
        { err: error, bundle: sha256 },
        "could not shelve the bundle: its agents download it",
      );
      return undefined;
    });
    this.shelved.set(sha256, shelved);
    void this.evict();
    return shelved;
  }

  private async extract(sha256: string): Promise<Shelved> {
    const tarball = await this.opts.tarball(sha256);
    const actual = createHash("sha256").update(tarball).digest("hex");
    if (actual !== sha256) throw new Error(`the stored bundle has sha256 ${actual}`);
    this.prepared ??= removeStaleShelves(dirname(this.opts.root));
    await this.prepared;
    await mkdir(this.opts.root, { recursive: true, mode: 0o700 });
    await chmod(this.opts.root, 0o700);
    const dir = join(this.opts.root, sha256);
    const scratch = join(this.opts.root, `.extracting-${sha256}-${randomBytes(4).toString("hex")}`);
    try {
      // The agent's own extraction: the same files, checked the same way, as the agent would get.
      await extractBundle(tarball, scratch);
      const { dirs, files } = await treeOf(scratch);
      // Read-only to everyone else (the server's umask is 077): the attempts read them through their links.
      for (const d of ["", ...dirs]) await chmod(join(scratch, d), 0o755);
      for (const f of files) await chmod(join(scratch, f), 0o644);
      await rm(dir, { recursive: true, force: true });
      await rename(scratch, dir);
      return { dir, dirs, files };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Takes the least recently used bundles off the shelf beyond KEPT_BUNDLES. */
  private async evict(): Promise<void> {
    while (this.shelved.size > KEPT_BUNDLES) {
      const [oldest, shelved] = this.shelved.entries().next().value as [
        string,
        Promise<Shelved | undefined>,
      ];
      this.shelved.delete(oldest);
      const bundle = await shelved;
      if (bundle) await rm(bundle.dir, { recursive: true, force: true });
    }
  }
}

/** A directory made for `owner` (or made theirs), 0755 as the agent's own extraction makes them. */
async function ownDir(path: string, owner: { uid: number; gid: number }): Promise<void> {
  await mkdir(path, { recursive: true });
  await chmod(path, 0o755);
  await chown(path, owner.uid, owner.gid);
}

/** The directories and files under `root`, relative, parents before their children. */
async function treeOf(root: string): Promise<{ dirs: string[]; files: string[] }> {
  const dirs: string[] = [];
  const files: string[] = [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name).slice(root.length + 1);
    if (entry.isDirectory()) dirs.push(path);
    else if (entry.isFile()) files.push(path);
    else throw new Error(`the bundle holds ${path}, which is not a file`);
  }
  dirs.sort((a, b) => a.split("/").length - b.split("/").length);
  return { dirs, files };
}

/** The shelf of the server process `pid` under the homes directory `homes`. */
export function shelfDir(homes: string, pid = process.pid): string {
  return join(homes, `bundles-${pid}`);
}

/** Shelves under `homes` left by server processes that are gone (crashed): removed. */
export async function removeStaleShelves(homes: string): Promise<void> {
  const names = await readdir(homes).catch(() => []);
  for (const name of names) {
    const pid = /^bundles-(\d+)$/.exec(name)?.[1];
    if (!pid || pidAlive(Number(pid))) continue;
    await rm(join(homes, name), { recursive: true, force: true });
  }
}
