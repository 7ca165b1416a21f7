import type { HeaderInfo } from "http-parser-js";

import { requestLine } from "./request-head.js";

/**
 * A request head replayed to the relay's HTTP server as it was received, followed by `rest`, what came after
 * it in the same read: the server takes the connection from this request on.
 */
export function replayedRequest(method: string, info: HeaderInfo, rest: Buffer): Buffer {
  const raw = info.headers;
  let replay = requestLine(method, info);
  for (let i = 0; i + 1 < raw.length; i += 2)
    replay += `${raw[i] as string}: ${raw[i + 1] as string}\r\n`;
  return Buffer.concat([Buffer.from(`${replay}\r\n`, "latin1"), rest]);
}
