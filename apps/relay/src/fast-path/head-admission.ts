import { Refusal } from "../authority.js";
import type { SessionGrant } from "../cookies.js";
import type { ConnectionHooks } from "./hooks.js";
import type { RequestHead } from "./request-head.js";

/**
 * Whether a request may cross to its session's IDE: first its body framing, which must be one that the relay
 * and code-server cannot read differently (no smuggling), then its cookie and Origin. Answers whom the
 * request is for, or why it may not cross.
 */
export function admitHead(
  head: RequestHead,
  sessionId: string,
  upgrade: boolean,
  hooks: ConnectionHooks,
): SessionGrant | Refusal {
  if (head.contentLength !== undefined && head.transferEncoding !== undefined)
    return new Refusal(400, "a request with both Content-Length and Transfer-Encoding is refused");
  if (
    head.transferEncoding !== undefined &&
    head.transferEncoding.trim().toLowerCase() !== "chunked"
  ) {
    return new Refusal(
      400,
      `Transfer-Encoding "${head.transferEncoding}" is refused: only "chunked" is understood`,
    );
  }
  return hooks.admit(sessionId, head.cookie, head.origin, upgrade);
}
