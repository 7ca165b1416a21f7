import { Refusal } from "./authority.js";
import type { CookieSigner } from "./cookies.js";
import type { SessionHosts } from "./session-hosts.js";

const COOKIE_PROBLEMS = {
  missing: "you are not signed in to this IDE",
  invalid: "your IDE cookie is not valid",
  expired: "your IDE sign-in expired",
} as const;

/**
 * Whether a browser request may reach a session's IDE: it must carry that session's cookie, and come from
 * the session's own origin (a WebSocket must say so; a request may also say nothing, as a navigation does).
 * Every request is checked, on the fast path and in the relay's HTTP server alike.
 */
export class Admission {
  constructor(
    private readonly signer: CookieSigner,
    private readonly hosts: SessionHosts,
  ) {}

  /** Checks a browser request's cookie and Origin for `sessionId`; a refusal says what is wrong. */
  admit(
    sessionId: string,
    cookie: string | undefined,
    from: string | undefined,
    upgrade: boolean,
  ): Refusal | undefined {
    const grant = this.signer.read(cookie, Date.now() / 1000);
    if ("problem" in grant) {
      return new Refusal(
        401,
        `${COOKIE_PROBLEMS[grant.problem]}: open it from the Drydock console (VSCode (User)), whose link signs you in`,
      );
    }
    if (grant.sessionId !== sessionId)
      return new Refusal(403, "this cookie belongs to another session's IDE");
    // The session's origin is only worked out when there is an Origin to compare (most requests send none).
    if (
      upgrade
        ? from !== this.hosts.sessionOrigin(sessionId)
        : from !== undefined && from !== this.hosts.sessionOrigin(sessionId)
    ) {
      return new Refusal(
        403,
        `cross-origin ${upgrade ? "WebSocket" : "request"} refused (Origin: ${from ?? "none"})`,
      );
    }
    return undefined;
  }
}
