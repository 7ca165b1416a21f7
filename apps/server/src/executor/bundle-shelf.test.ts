/**
 * The bundle shelf with real users (as root, as CI runs): a bundle packed from an example is put in two
 * isolated attempts' caches, where the agent's own bundle cache takes it without downloading; neither
 * attempt's user can change a file the other runs. Without root nothing can be given to another user, so
 * nothing is placed and the agent downloads its bundle as before.
 */
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { ensureBundle, extractBundle } from "@drydock/agent";
import { packBundle } from "@drydock/bundle";
import type { PackedBundle } from "@drydock/bundle";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createLogger } from "../logger.js";
import { BundleShelf, shelfDir } from "./bundle-shelf.js";
import { ATTEMPT_ID_RANGE, AttemptHomes } from "./isolation.js";
import type { AttemptHome } from "./isolation.js";

const asRoot = process.getuid?.() === 0;
const example = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../examples/fanout/workflow.ts",
);
/** Where no agent's download could succeed: a bundle found in the cache never asks it. */
const NO_DOWNLOAD = "http://127.0.0.1:9/bundles/never.tgz";
/** Packing, extracting and Node processes as other users: seconds on a loaded machine. */
const SLOW = 60_000;

let base: string;
let packed: PackedBundle;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "drydock-shelf-"));
  // The attempts' users pass through it to their homes, as through the system's temp dir.
  await chmod(base, 0o711);
  packed = await packBundle(example);
}, SLOW);

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Every file under `dir`, relative path → bytes. */
async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path));
  }
  return files;
}

/** Runs `code` with Node as the attempt's user; its exit status and what it printed. */
function asUser(home: AttemptHome, code: string, ...args: string[]) {
  const run = spawnSync(process.execPath, ["-e", code, ...args], {
    uid: home.uid,
    gid: home.gid,
    cwd: home.work,
    encoding: "utf8",
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function shelf(tarball: (sha256: string) => Promise<Buffer>): BundleShelf {
  return new BundleShelf({
    root: shelfDir(join(base, "homes")),
    tarball,
    log: createLogger("silent"),
  });
}

describe("the bundle shelf", () => {
  it(
    "puts a bundle in each isolated agent's cache, where the agent takes it without downloading, extracting it once",
    async () => {
      if (!asRoot) {
        // Nothing can be given to another user: nothing is placed, the agent downloads its bundle.
        const cache = join(base, "unisolated-cache");
        await mkdir(cache);
        const other = { uid: ATTEMPT_ID_RANGE.first, gid: ATTEMPT_ID_RANGE.first };
        expect(await shelf(async () => packed.tarball).placeIn(cache, packed.sha256, other)).toBe(
          false,
        );
        await expect(readdir(join(cache, "bundles"))).resolves.toEqual([]);
        return;
      }
      const homes = new AttemptHomes(join(base, "homes"), createLogger("silent"));
      const [a, b] = [await homes.create(), await homes.create()];
      let reads = 0;
      const shelved = shelf(async () => {
        reads++;
        return packed.tarball;
      });
      // With the server's umask: what the shelf makes is its own unless it opens it.
      const umask = process.umask(0o077);
      try {
        expect(await shelved.placeIn(a.cache, packed.sha256, a)).toBe(true);
        expect(await shelved.placeIn(b.cache, packed.sha256, b)).toBe(true);
      } finally {
        process.umask(umask);
      }
      expect(reads).toBe(1);

      // The agent's bundle cache finds it whole: it asks no download (which would fail).
      const found = await ensureBundle(a.cache, { sha256: packed.sha256, url: NO_DOWNLOAD });
      expect(found).toMatchObject({ downloaded: false, manifest: packed.manifest });
      // The same files, byte for byte, as the agent's own extraction gives.
      const extracted = join(base, "extracted");
      await extractBundle(packed.tarball, extracted);
      expect(await filesOf(found.dir)).toEqual(await filesOf(extracted));
      // The attempt's user reads and imports it: the workflow's module loads, with its packages.
      const entry = join(found.dir, packed.manifest.compiled ?? packed.manifest.entry);
      const loaded = asUser(
        a,
        "import(require('node:url').pathToFileURL(process.argv[1]).href).then((m) => console.log(Object.keys(m).join(',')))",
        entry,
      );
      expect(loaded.output).toContain("fanout");
      expect(loaded.status).toBe(0);
      // Its bundle directory is its own, as when it extracts the bundle itself.
      expect((await stat(found.dir)).uid).toBe(a.uid);

      // The shelf goes with the server; what it placed stays readable.
      await shelved.clear();
      await expect(stat(shelfDir(join(base, "homes")))).rejects.toThrow();
      expect(
        asUser(
          b,
          "require('node:fs').readFileSync(process.argv[1])",
          join(b.cache, "bundles", packed.sha256, packed.manifest.entry),
        ).status,
      ).toBe(0);
    },
    SLOW,
  );

  it(
    "does not let an attempt change a bundle file that another attempt runs (the files are shared, and read-only)",
    async () => {
      if (!asRoot) return;
      const homes = new AttemptHomes(join(base, "homes-attack"), createLogger("silent"));
      const [a, b] = [await homes.create(), await homes.create()];
      const shelved = new BundleShelf({
        root: shelfDir(join(base, "homes-attack")),
        tarball: async () => packed.tarball,
        log: createLogger("silent"),
      });
      expect(await shelved.placeIn(a.cache, packed.sha256, a)).toBe(true);
      expect(await shelved.placeIn(b.cache, packed.sha256, b)).toBe(true);
      const file = (home: AttemptHome) =>
        join(
          home.cache,
          "bundles",
          packed.sha256,
          packed.manifest.compiled ?? packed.manifest.entry,
        );
      const before = await readFile(file(a));

      // Each attempt plants code in its copy of the entry every way a file's owner could; the other's stays.
      const plant = [
        "const fs = require('node:fs'); const file = process.argv[1]; const refused = [];",
        "for (const [how, act] of [['write', () => fs.writeFileSync(file, 'planted')], ['append', () => fs.appendFileSync(file, ';planted')],",
        "  ['truncate', () => fs.truncateSync(file, 0)], ['chmod', () => fs.chmodSync(file, 0o666)]]) {",
        "  try { act(); } catch (e) { refused.push(how + ':' + e.code); } }",
        "console.log(refused.join(' '));",
      ].join("\n");
      for (const [attacker, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const attack = asUser(attacker, plant, file(attacker));
        expect(attack.output.trim().split(" ")).toEqual([
          "write:EACCES",
          "append:EACCES",
          "truncate:EACCES",
          "chmod:EPERM",
        ]);
        expect(await readFile(file(other))).toEqual(before);
      }
      // Its directory is its own all the same: it may add files beside the bundle's, as before.
      const beside = asUser(
        a,
        "require('node:fs').writeFileSync(process.argv[1], 'mine')",
        join(dirname(file(a)), "notes.txt"),
      );
      expect(beside.status).toBe(0);
      await shelved.clear();
    },
    SLOW,
  );

  it(
    "places nothing for a stored bundle that does not match its sha256: the agent downloads it",
    async () => {
      const cache = join(base, "mismatch-cache");
      await mkdir(cache);
      const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
      const shelved = shelf(async () => Buffer.concat([packed.tarball, Buffer.from("tampered")]));
      expect(await shelved.placeIn(cache, packed.sha256, owner)).toBe(false);
      await expect(readdir(join(cache, "bundles")).catch(() => [])).resolves.toEqual([]);
      await shelved.clear();
    },
    SLOW,
  );
});
