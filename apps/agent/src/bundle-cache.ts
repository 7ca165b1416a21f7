/**
 * The machine-wide cache of code bundles: `<cache>/bundles/<sha256>/` holds one extracted bundle, written
 * once (extract to a scratch dir, then an atomic rename) and shared by every agent on the machine.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { BUNDLE_MANIFEST_FILE, BundleManifestSchema } from "@drydock/contracts";
import type { BundleManifest } from "@drydock/contracts";
import { extract } from "tar";

export interface BundleRef {
  sha256: string;
  url: string;
}

export interface CachedBundle {
  /** The extracted bundle's root. */
  dir: string;
  manifest: BundleManifest;
  /** False when an earlier agent had already put the bundle in the cache. */
  downloaded: boolean;
}

export interface EnsureBundleOptions {
  /** Fetches the tarball's bytes (default: a plain GET that expects 200). */
  download?: (url: string) => Promise<Buffer>;
}

/** Returns the extracted bundle from the cache, downloading, verifying and extracting it first if needed. */
export async function ensureBundle(
  cacheDir: string,
  bundle: BundleRef,
  options: EnsureBundleOptions = {},
): Promise<CachedBundle> {
  if (!/^[a-f0-9]{64}$/.test(bundle.sha256))
    throw new Error(`not a bundle sha256: ${bundle.sha256}`);
  const bundlesDir = join(cacheDir, "bundles");
  const dir = join(bundlesDir, bundle.sha256);
  const cached = await readManifest(dir);
  if (cached) return { dir, manifest: cached, downloaded: false };

  const tarball = await (options.download ?? downloadBytes)(bundle.url);
  const actual = createHash("sha256").update(tarball).digest("hex");
  if (actual !== bundle.sha256) {
    throw new Error(
      `the downloaded bundle has sha256 ${actual}, expected ${bundle.sha256} (corrupted or wrong upload)`,
    );
  }

  await mkdir(bundlesDir, { recursive: true });
  const scratch = join(
    bundlesDir,
    `.tmp-${bundle.sha256.slice(0, 12)}-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  try {
    const manifest = await extractBundle(tarball, scratch);
    try {
      await rename(scratch, dir);
      return { dir, manifest, downloaded: true };
    } catch (error) {
      // Another agent won the race: its copy is complete (renames are atomic), so use it.
      const theirs = await readManifest(dir);
      if (theirs) return { dir, manifest: theirs, downloaded: true };
      throw error;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Extracts a bundle tarball (bytes or a file path) into `destDir` and returns its validated manifest. */
export async function extractBundle(
  tarball: Buffer | string,
  destDir: string,
): Promise<BundleManifest> {
  await mkdir(destDir, { recursive: true });
  let file = tarball;
  if (typeof file !== "string") {
    file = join(destDir, `.bundle-${randomBytes(4).toString("hex")}.tgz`);
    await writeFile(file, tarball);
  }
  try {
    // node-tar refuses absolute paths and `..` entries unless preservePaths is set, so nothing lands outside destDir.
    await extract({ file, cwd: destDir, strict: true });
  } finally {
    if (typeof tarball !== "string") await rm(file, { force: true });
  }
  const manifest = await readManifest(destDir);
  if (!manifest) throw new Error(`the bundle has no valid ${BUNDLE_MANIFEST_FILE} at its root`);
  return manifest;
}

/**
 * Manifests read by this process, by bundle directory: an extracted bundle never changes (it appears whole,
 * by a rename), so a warm agent reads its manifest once, not once per attempt — while it is still there.
 */
const manifests = new Map<string, BundleManifest>();

async function readManifest(dir: string): Promise<BundleManifest | undefined> {
  const known = manifests.get(dir);
  if (known && existsSync(join(dir, BUNDLE_MANIFEST_FILE))) return known;
  const read = await readManifestFile(dir);
  if (read) manifests.set(dir, read);
  else manifests.delete(dir);
  return read;
}

async function readManifestFile(dir: string): Promise<BundleManifest | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, BUNDLE_MANIFEST_FILE), "utf8"));
  } catch {
    return undefined;
  }
  const parsed = BundleManifestSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

async function downloadBytes(url: string): Promise<Buffer> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}
