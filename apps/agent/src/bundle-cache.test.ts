import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ensureBundle, extractBundle } from "./bundle-cache.js";
import { packFixture } from "./test/fixture.js";
import type { FixtureBundle } from "./test/fixture.js";

let scratch: string;
let bundle: FixtureBundle;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "drydock-bundle-cache-test-"));
  bundle = await packFixture(join(scratch, "project"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("ensureBundle", () => {
  it("downloads, verifies and extracts once, then reuses the cached copy", async () => {
    const cacheDir = await mkdtemp(join(scratch, "cache-"));
    const downloads: string[] = [];
    const download = async (url: string) => {
      downloads.push(url);
      return bundle.tarball;
    };
    const ref = { sha256: bundle.sha256, url: "http://server/blobs/b" };

    const first = await ensureBundle(cacheDir, ref, { download });
    const second = await ensureBundle(cacheDir, ref, { download });

    expect(first).toMatchObject({
      dir: join(cacheDir, "bundles", bundle.sha256),
      downloaded: true,
    });
    expect(second).toMatchObject({ dir: first.dir, downloaded: false, manifest: first.manifest });
    expect(downloads).toEqual(["http://server/blobs/b"]);
    expect(first.manifest.entry).toBe("tasks.ts");
    expect(await readFile(join(first.dir, "lib/math.ts"), "utf8")).toContain("double");
  });

  it("lets agents racing for the same bundle share one complete copy", async () => {
    const cacheDir = await mkdtemp(join(scratch, "cache-"));
    const ref = { sha256: bundle.sha256, url: "http://server/blobs/b" };
    const slowDownload = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return bundle.tarball;
    };
    const results = await Promise.all(
      Array.from({ length: 5 }, () => ensureBundle(cacheDir, ref, { download: slowDownload })),
    );

    expect(new Set(results.map((r) => r.dir)).size).toBe(1);
    expect(await readdir(join(cacheDir, "bundles"))).toEqual([bundle.sha256]);
  });

  it("refuses a download whose sha256 does not match and caches nothing", async () => {
    const cacheDir = await mkdtemp(join(scratch, "cache-"));
    const ref = { sha256: bundle.sha256, url: "http://server/blobs/b" };
    await expect(
      ensureBundle(cacheDir, ref, { download: async () => Buffer.from("tampered") }),
    ).rejects.toThrow(new RegExp(`expected ${bundle.sha256}`));
    await expect(readdir(join(cacheDir, "bundles"))).rejects.toThrow(/ENOENT/);
  });
});

describe("extractBundle", () => {
  it("extracts a tarball file and returns its manifest", async () => {
    const file = join(scratch, "bundle.tgz");
    await writeFile(file, bundle.tarball);
    const manifest = await extractBundle(file, join(scratch, "from-file"));
    expect(manifest).toEqual({
      formatVersion: 1,
      entry: "tasks.ts",
      sources: ["lib/math.ts", "tasks.ts"],
      packages: {},
      compiled: "tasks.drydock.mjs",
    });
    expect((await readdir(join(scratch, "from-file"))).sort()).toEqual([
      "drydock-bundle.json",
      "lib",
      "package.json",
      "tasks.drydock.mjs",
      "tasks.ts",
    ]);
  });

  it("rejects an archive that is not a bundle", async () => {
    await expect(
      extractBundle(Buffer.from("not a tarball at all"), join(scratch, "garbage")),
    ).rejects.toThrow();
  });
});
