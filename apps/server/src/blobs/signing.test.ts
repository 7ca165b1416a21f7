import { describe, expect, it } from "vitest";

import { BlobUrlSigner } from "./signing.js";

const signer = new BlobUrlSigner("s".repeat(64), () => "http://127.0.0.1:1");
const query = (url: string) =>
  Object.fromEntries(new URL(url).searchParams) as { op?: string; exp?: string; sig?: string };

describe("BlobUrlSigner", () => {
  it("accepts its own URL for the signed operation and key", () => {
    const url = signer.sign("get", "bundles/a.tgz", 60);
    expect(url.startsWith("http://127.0.0.1:1/blobs/bundles/a.tgz?")).toBe(true);
    expect(signer.check("get", "bundles/a.tgz", query(url))).toBeUndefined();
  });

  it("refuses another key, another operation, a tampered signature and an expired URL", () => {
    const url = signer.sign("get", "bundles/a.tgz", 60);
    expect(signer.check("get", "bundles/b.tgz", query(url))).toBe("bad signature");
    expect(signer.check("put", "bundles/a.tgz", query(url))).toBe(
      "this URL is not signed for that operation",
    );
    expect(signer.check("get", "bundles/a.tgz", { ...query(url), sig: "00".repeat(32) })).toBe(
      "bad signature",
    );
    const old = signer.sign("get", "k", 1, Date.now() - 10_000);
    expect(signer.check("get", "k", query(old))).toBe("this signed URL has expired");
  });

  it("refuses a URL signed with another secret", () => {
    const other = new BlobUrlSigner("t".repeat(64), () => "http://x");
    expect(signer.check("get", "k", query(other.sign("get", "k", 60)))).toBe("bad signature");
  });
});
