import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { BlobConflictError, BlobTooLargeError, LocalBlobStore } from "./blob-store.js";

let dir: string;
let store: LocalBlobStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "blobs-"));
  store = new LocalBlobStore(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("LocalBlobStore", () => {
  it("writes once: identical bytes again are accepted, different bytes are refused", async () => {
    expect(await store.write("a/b.json", Buffer.from("one"), 100)).toMatchObject({ created: true });
    expect(await store.write("a/b.json", Readable.from([Buffer.from("one")]), 100)).toMatchObject({
      created: false,
    });
    await expect(store.write("a/b.json", Buffer.from("two"), 100)).rejects.toBeInstanceOf(
      BlobConflictError,
    );
    expect((await store.readBuffer("a/b.json")).toString()).toBe("one");
  });

  it("keeps blobs private to the server's user, whatever the umask", async () => {
    await store.write("executions/x1/inputs.json", Buffer.from("{}"), 100);
    expect((await stat(join(dir, "executions"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "executions/x1"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "executions/x1/inputs.json"))).mode & 0o777).toBe(0o600);
  });

  it("refuses oversized streams and leaves nothing behind", async () => {
    await expect(
      store.write("big", Readable.from([Buffer.alloc(60), Buffer.alloc(60)]), 100),
    ).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(await store.exists("big")).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it("rejects keys that would leave its root", () => {
    for (const key of ["../x", "a/../../x", "/etc/passwd", "a//b", ""])
      expect(LocalBlobStore.isValidKey(key), key).toBe(false);
    expect(LocalBlobStore.isValidKey("executions/x1/nodes/n2[3]/inputs.json")).toBe(true);
  });
});
