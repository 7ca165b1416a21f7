/**
 * The bundle's gzip'd tar, written one way only (sorted paths, mode 0644, fixed mtime, fixed gzip OS byte) so
 * that the same files give the same bytes, and so the same sha256, whether packed from disk or forked in memory.
 */
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { Parser, create as createTar } from "tar";
import type { ReadEntry } from "tar";

/** A bundle entry's content: a file on disk to copy, or bytes/text to write. */
export type BundleContent = { file: string } | { data: string | Uint8Array };

const FIXED_MTIME = new Date(0);
const GZIP_OS_BYTE = 9;
const GZIP_OS_UNKNOWN = 255;

/** Writes the files to a scratch dir with normalised modes and tars them in sorted order with a fixed mtime. */
export async function writeBundleTarball(contents: Map<string, BundleContent>): Promise<Buffer> {
  const staging = await mkdtemp(join(tmpdir(), "drydock-pack-"));
  try {
    const paths = [...contents.keys()].sort(comparePaths);
    for (const path of paths) {
      const target = join(staging, ...path.split("/"));
      await mkdir(dirname(target), { recursive: true });
      const content = contents.get(path);
      if (content && "file" in content) await copyFile(content.file, target);
      else await writeFile(target, content?.data ?? "");
      await chmod(target, 0o644);
    }
    const pack = createTar({ gzip: true, cwd: staging, portable: true, mtime: FIXED_MTIME }, paths);
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(Buffer.from(chunk));
    const tarball = Buffer.concat(chunks);
    // zlib writes the packing machine's OS into the gzip header (3 on Linux, 19 on macOS); a fixed "unknown"
    // keeps the sha256 the same wherever the code is packed. The header is not covered by the gzip CRC.
    tarball[GZIP_OS_BYTE] = GZIP_OS_UNKNOWN;
    return tarball;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Every file of a bundle's gzip'd tar, path → content (directories are implied by the paths). */
export async function readBundleTarball(tarball: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const pending: Promise<void>[] = [];
  let refused: string | undefined;
  const parser = new Parser({ strict: true });
  parser.on("entry", (entry: ReadEntry) => {
    if (entry.type === "Directory") {
      entry.resume();
      return;
    }
    if (entry.type !== "File" && entry.type !== "OldFile" && entry.type !== "ContiguousFile") {
      refused ??= `${entry.path} is a ${entry.type}, not a file`;
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    pending.push(
      new Promise((done, fail) => {
        entry.on("data", (chunk: Buffer) => chunks.push(chunk));
        entry.on("end", () => {
          files.set(entry.path.replace(/^\.\//, ""), Buffer.concat(chunks));
          done();
        });
        entry.on("error", fail);
      }),
    );
  });
  await new Promise<void>((done, fail) => {
    parser.on("error", fail);
    parser.on("end", () => done());
    parser.end(tarball);
  });
  await Promise.all(pending);
  if (refused) throw new Error(`cannot read the bundle: ${refused}`);
  return files;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
