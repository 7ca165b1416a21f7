import { REVOKED_PROBLEM, type AccessRegistry } from "./access.js";
import { Refusal } from "./authority.js";
import type { CookieSigner, SessionGrant } from "./cookies.js";
import type { SessionHosts } from "./session-hosts.js";

const COOKIE_PROBLEMS = {
  missing: "you are not signed in to this IDE",
  invalid: "your IDE cookie is not valid",
  expired: "your IDE sign-in expired",
} as const;

/**
 * Whether a browser request may reach a session's IDE: it must carry that session's cookie, issued after
 * any revocation of its person's access, and come from the session's own origin (a WebSocket must say so; a
 * request may also say nothing, as a navigation does). Every request is checked, on the fast path and in
 * the relay's HTTP server alike.
 */
export class Admission {
  constructor(
    private readonly signer: CookieSigner,
    private readonly hosts: SessionHosts,
    private readonly access: AccessRegistry,
  ) {}

  /**
   * Checks a browser request's cookie and Origin for `sessionId`: the cookie's grant (whom the connection
   * now carries), or a refusal that says what is wrong.
   */
  admit(
    sessionId: string,
    cookie: string | undefined,
    from: string | undefined,
    upgrade: boolean,
  ): SessionGrant | Refusal {
    const grant = this.signer.read(cookie, Date.now() / 1000);
    if ("problem" in grant) {
      return new Refusal(
        401,
        `${COOKIE_PROBLEMS[grant.problem]}: open it from the Drydock console (VSCode (User)), whose link signs you in`,
      );
    }
    if (grant.sessionId !== sessionId)
      return new Refusal(403, "this cookie belongs to another session's IDE");
    if (this.access.refuses(grant)) return new Refusal(401, REVOKED_PROBLEM);
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
    return grant;
  }
}
