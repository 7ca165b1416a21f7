/**
 * Stand-ins for code-server that the tunnel's tests and the relay's share (`@drydock/tunnel/testing`).
 * Test code only: nothing in the tunnel or the relay imports it.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Reads a request's whole body and answers `{ bytes, sha256 }`, for an upload test to compare with what it sent. */
export function answerWithBodyDigest(req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash("sha256");
  let bytes = 0;
  req.on("data", (c: Buffer) => {
    hash.update(c);
    bytes += c.length;
  });
  req.on("end", () => res.end(JSON.stringify({ bytes, sha256: hash.digest("hex") })));
}
