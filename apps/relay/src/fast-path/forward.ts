/**
 * A request as it crosses to code-server: its head written anew from what the parser understood, so the relay
 * and code-server cannot disagree about where it ends, and its body framed the way that head says.
 */
import type { HeaderInfo } from "http-parser-js";

import type { ConnectionHooks } from "./hooks.js";
import { requestLine, type RequestHead } from "./request-head.js";

const FRAMING = new Set(["content-length", "transfer-encoding"]);

/** The head: every header as `rewrite` lets it cross (the relay's cookie does not), then the body's framing. */
export function forwardedHead(
  method: string,
  info: HeaderInfo,
  head: RequestHead,
  chunked: boolean,
  hooks: ConnectionHooks,
): Buffer {
  const raw = info.headers;
  let text = requestLine(method, info);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (FRAMING.has(lower)) continue;
    const value = hooks.rewrite(lower, raw[i + 1] as string);
    if (value !== null) text += `${name}: ${value}\r\n`;
  }
  if (chunked) text += "Transfer-Encoding: chunked\r\n";
  else if (head.contentLength !== undefined)
    text += `Content-Length: ${Number(head.contentLength)}\r\n`;
  return Buffer.from(`${text}\r\n`, "latin1");
}

/** A piece of the body, `length` bytes of `chunk` from `offset`: a chunk of its own when the body is chunked. */
export function forwardedBody(
  chunk: Buffer,
  offset: number,
  length: number,
  chunked: boolean,
): Buffer {
  const body = chunk.subarray(offset, offset + length);
  return chunked
    ? Buffer.concat([Buffer.from(`${length.toString(16)}\r\n`), body, Buffer.from("\r\n")])
    : body;
}

/** The end of a chunked body. */
export function lastChunk(): Buffer {
  return Buffer.from("0\r\n\r\n");
}
