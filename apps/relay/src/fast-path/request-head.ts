import type { HeaderInfo } from "http-parser-js";

/**
 * The headers of a request head that the fast path acts on. A connection reads each of its heads into its
 * one `RequestHead`, so that a request costs no object of its own.
 */
export class RequestHead {
  host: string | undefined;
  /** Every Cookie header, joined as one. */
  cookie: string | undefined;
  origin: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;

  /** Reads http-parser-js's flat list of names and values: the first of each header counts, and all cookies. */
  read(raw: string[]): void {
    let host: string | undefined;
    let cookie: string | undefined;
    let origin: string | undefined;
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      const value = raw[i + 1] as string;
      if (name === "host") host ??= value;
      else if (name === "cookie") cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      else if (name === "origin") origin ??= value;
      else if (name === "content-length") contentLength ??= value;
      else if (name === "transfer-encoding") transferEncoding ??= value;
    }
    this.host = host;
    this.cookie = cookie;
    this.origin = origin;
    this.contentLength = contentLength;
    this.transferEncoding = transferEncoding;
  }
}

/** The first value of header `name` (lower case) in http-parser-js's flat list, for heads read once (a redemption). */
export function headerValue(raw: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2)
    if ((raw[i] as string).toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** A head's first line, as the parser understood it. */
export function requestLine(method: string, info: HeaderInfo): string {
  return `${method} ${info.url} HTTP/${info.versionMajor}.${info.versionMinor}\r\n`;
}
