import { createHmac, timingSafeEqual } from "node:crypto";

export type BlobOperation = "get" | "put";

/**
 * Signed, expiring blob URLs: agents reach storage only through these, never with credentials.
 * The signature covers the operation, the key and the expiry.
 */
export class BlobUrlSigner {
  constructor(
    private readonly secret: string,
    private readonly baseUrl: () => string,
  ) {}

  private signature(op: BlobOperation, key: string, expires: number): string {
    return createHmac("sha256", this.secret).update(`${op}\n${key}\n${expires}`).digest("hex");
  }

  /** An absolute URL on the server's public base URL (for the CLI and browsers). */
  sign(op: BlobOperation, key: string, ttlSeconds: number, now = Date.now()): string {
    return `${this.baseUrl()}${this.signPath(op, key, ttlSeconds, now)}`;
  }

  /**
   * The same, as a path: agents resolve it against the endpoint they reach the server on, which for a
   * container is not the public URL.
   */
  signPath(op: BlobOperation, key: string, ttlSeconds: number, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const query = new URLSearchParams({
      op,
      exp: String(expires),
      sig: this.signature(op, key, expires),
    });
    return `/blobs/${key}?${query.toString()}`;
  }

  /** Why a request may not proceed, or undefined when the signature is good. */
  check(
    op: BlobOperation,
    key: string,
    query: { op?: string; exp?: string; sig?: string },
    now = Date.now(),
  ): string | undefined {
    if (query.op !== op || !query.exp || !query.sig)
      return "this URL is not signed for that operation";
    const expires = Number(query.exp);
    if (!Number.isInteger(expires)) return "malformed expiry";
    if (expires * 1000 < now) return "this signed URL has expired";
    const expected = Buffer.from(this.signature(op, key, expires), "hex");
    const given = Buffer.from(query.sig, "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return "bad signature";
    return undefined;
  }
}
