import type { RelayAuthority } from "@drydock/contracts";

import { asRefusal, Refusal } from "./authority.js";
import { SESSION_COOKIE, type CookieSigner } from "./cookies.js";
import type { RelayMetrics } from "./metrics.js";
import { OWN_PAGE_HEADERS, refusalAnswer, type OwnAnswer } from "./pages.js";
import { redirectTarget } from "./redirect.js";
import { outcomeOf } from "./refusals.js";
import type { SessionHosts } from "./session-hosts.js";

export const REDEEM_PATH = "/__drydock/redeem";

export interface TicketRedemptionParts {
  hosts: SessionHosts;
  signer: CookieSigner;
  authority: RelayAuthority;
  metrics: RelayMetrics;
  /** How long the cookie a redemption sets keeps the browser signed in. */
  cookieTtlSeconds: number;
}

/** The browser that redeems a ticket, as the relay sees it: its address (a load balancer's, behind one) and user agent. */
export interface RedeemingClient {
  ip: string | undefined;
  userAgent: string | undefined;
}

/** The client as the contract takes it: within its bounds, so that an odd browser cannot fail its own sign-in. */
function clientRecord({ ip, userAgent }: RedeemingClient): { ip?: string; userAgent?: string } {
  return {
    ...(ip ? { ip: ip.slice(0, 100) } : {}),
    ...(userAgent ? { userAgent: userAgent.slice(0, 1_000) } : {}),
  };
}

/** The search parameters of a request target (`/__drydock/redeem?ticket=…`). */
export const queryOf = (url: string) => new URL(url, "http://relay.invalid").searchParams;

/**
 * Spends a ticket for the session a host names: sets the session cookie and redirects into the IDE. Answered
 * on the fast path (a connection's first request) or by the relay's HTTP server (a connection already handed
 * to it).
 */
export class TicketRedemption {
  constructor(private readonly parts: TicketRedemptionParts) {}

  /**
   * Redeems `query`'s ticket for the session `host` names. `next` is checked before the ticket is spent, so a
   * bad link costs nothing.
   */
  async redeem(
    host: string | undefined,
    query: URLSearchParams,
    client: RedeemingClient,
  ): Promise<OwnAnswer> {
    const { hosts, signer, authority, metrics, cookieTtlSeconds } = this.parts;
    const refused = (refusal: Refusal) => {
      metrics.requests.inc({ kind: "redeem", outcome: outcomeOf(refusal) });
      return refusalAnswer(refusal);
    };
    const sessionId = hosts.sessionOf(host);
    if (!sessionId) return refused(new Refusal(404, "open the link on the session's own host"));
    const ticket = query.get("ticket");
    if (!ticket)
      return refused(
        new Refusal(401, "the link has no ticket: open the IDE from the Drydock console"),
      );
    const target = redirectTarget(query.get("next"), hosts.sessionOrigin(sessionId));
    if (target instanceof Refusal) return refused(target);
    let userId: string;
    try {
      ({ userId } = await authority.redeemTicket({
        sessionId,
        ticket,
        client: clientRecord(client),
      }));
    } catch (error) {
      return refused(asRefusal(error));
    }
    const expires = Math.floor(Date.now() / 1000) + cookieTtlSeconds;
    const value = signer.sign({ sessionId, userId, expires });
    const cookie = `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${cookieTtlSeconds}${hosts.secure ? "; Secure" : ""}`;
    metrics.requests.inc({ kind: "redeem", outcome: "forwarded" });
    return {
      status: 303,
      headers: {
        "Set-Cookie": cookie,
        "Cache-Control": "no-store",
        Location: target,
        ...OWN_PAGE_HEADERS,
      },
      body: "",
    };
  }

  /** The fast path's question: a redemption on a session host is answered there; anything else is not (undefined). */
  answer(
    host: string | undefined,
    method: string,
    url: string,
    client: RedeemingClient,
  ): Promise<OwnAnswer> | undefined {
    return method === "GET" && url.split("?")[0] === REDEEM_PATH && this.parts.hosts.sessionOf(host)
      ? this.redeem(host, queryOf(url), client)
      : undefined;
  }
}
