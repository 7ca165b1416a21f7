import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { link, mkdir, open, readFile, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

const KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._[\]-]+)*$/;

export class BlobTooLargeError extends Error {
  override name = "BlobTooLargeError";
}
export class BlobConflictError extends Error {
  override name = "BlobConflictError";
}

/**
 * Blobs (bundles, inputs, outputs) on the local filesystem, private to the server's user (files 0600,
 * directories 0700). Every blob is write-once: a second write of different bytes is refused, so an output
 * can never be silently replaced, and a retried identical write is harmless.
 */
export class LocalBlobStore {
  constructor(private readonly root: string) {}

  static isValidKey(key: string): boolean {
    return KEY.test(key) && !key.split("/").some((part) => part === "." || part === "..");
  }

  private path(key: string): string {
    if (!LocalBlobStore.isValidKey(key)) throw new Error(`invalid blob key "${key}"`);
    return join(this.root, key);
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.path(key)).then(
      () => true,
      () => false,
    );
  }

  async size(key: string): Promise<number | undefined> {
    return stat(this.path(key)).then(
      (s) => s.size,
      () => undefined,
    );
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  read(key: string): Readable {
    return createReadStream(this.path(key));
  }

  async readBuffer(key: string): Promise<Buffer> {
    return readFile(this.path(key));
  }

  /** Writes a blob once; returns its sha256 and whether it was created now (false: identical bytes were there). */
  async write(
    key: string,
    body: Readable | Buffer,
    maxBytes: number,
  ): Promise<{ sha256: string; created: boolean }> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const temp = `${target}.${randomBytes(6).toString("hex")}.partial`;
    const hash = createHash("sha256");
    let bytes = 0;
    // Opened here, not by the stream: a stream destroyed early may open its file after the clean-up removed it.
    const file = await open(temp, "w", 0o600);
    try {
      if (Buffer.isBuffer(body)) {
        if (body.length > maxBytes)
          throw new BlobTooLargeError(`blob is larger than ${maxBytes} bytes`);
        hash.update(body);
        await file.writeFile(body);
      } else {
        await pipeline(
          body,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              bytes += chunk.length;
              if (bytes > maxBytes)
                throw new BlobTooLargeError(`blob is larger than ${maxBytes} bytes`);
              hash.update(chunk);
              yield chunk;
            }
          },
          file.createWriteStream(),
        );
      }
      const sha256 = hash.digest("hex");
      try {
        await link(temp, target);
        return { sha256, created: true };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const existing = createHash("sha256")
          .update(await readFile(target))
          .digest("hex");
        if (existing !== sha256)
          throw new BlobConflictError(`blob "${key}" already exists with different content`);
        return { sha256, created: false };
      }
    } finally {
      // The stream closed it already, unless it failed before writing (or the body was a buffer).
      await file.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }

  async sha256(key: string): Promise<string | undefined> {
    const data = await readFile(this.path(key)).catch(() => undefined);
    return data && createHash("sha256").update(data).digest("hex");
  }
}
