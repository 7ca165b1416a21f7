import { createHash, timingSafeEqual } from "node:crypto";

import { LOCAL_ADMIN_ID } from "@drydock/contracts";
import type { Principal, UserPrincipal } from "@drydock/contracts/router";
import { parse } from "cookie";

import type { Db } from "./db/database.js";
import type { ApiKeys } from "./identity/api-keys.js";
import { isApiKey } from "./identity/api-keys.js";
import { CONSOLE_COOKIE } from "./identity/sign-in.js";
import type { WebSessions } from "./identity/web-sessions.js";
import { AgentTokens, hashToken } from "./services/agent-token.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** The headers a console request proves its user with (tRPC's WebSocket requests are not decorated by plugins). */
export interface CookieHeaders {
  cookie?: string | undefined;
  origin?: string | undefined;
  host?: string | undefined;
}

/**
 * Turns a credential into a principal: a bearer token (the local admin's token, an API key, the relay token,
 * or an attempt's agent token), or the console's cookie (a web session). Unknown, revoked or expired: null.
 */
export class Authenticator {
  private readonly userDigest: Buffer;
  private readonly relayDigest: Buffer;
  constructor(
    private readonly db: Db,
    userToken: string,
    relayToken: string,
    private readonly people?: { apiKeys: ApiKeys; webSessions: WebSessions },
    private readonly agents = new AgentTokens(),
  ) {
    // Equal tokens would make every relay a user (the user is matched first); refuse to start that way.
    if (userToken === relayToken)
      throw new Error(
        "the relay token (DRYDOCK_RELAY_TOKEN) must differ from the user token (DRYDOCK_TOKEN)",
      );
    this.userDigest = digest(userToken);
    this.relayDigest = digest(relayToken);
  }

  /** Whether `token` is the local admin's. */
  isUserToken(token: string): boolean {
    return timingSafeEqual(digest(token), this.userDigest);
  }

  async principal(token: string | undefined): Promise<Principal | null> {
    if (!token) return null;
    const presented = digest(token);
    if (timingSafeEqual(presented, this.userDigest))
      return { kind: "user", userId: LOCAL_ADMIN_ID, instanceAdmin: true, via: "token" };
    if (timingSafeEqual(presented, this.relayDigest)) return { kind: "relay" };
    if (isApiKey(token)) return (await this.people?.apiKeys.principal(token)) ?? null;
    return this.agentOf(token);
  }

  private async agentOf(token: string): Promise<Principal | null> {
    const hash = hashToken(token);
    let attemptId = this.agents.attemptOf(hash);
    if (attemptId === undefined) {
      attemptId = (
        await this.db
          .selectFrom("attempts")
          .select("id")
          .where("token_hash", "=", hash)
          .executeTakeFirst()
      )?.id;
      if (attemptId === undefined) return null;
      this.agents.remember(hash, attemptId);
    }
    return { kind: "agent", attemptId };
  }

  /**
   * The user a request's console cookie signs in, if the request comes from the console's own page: a
   * cross-site page's request (its Origin names another host) gets nothing, so it can neither act nor open
   * the WebSocket as the user.
   */
  async principalOfCookie(headers: CookieHeaders): Promise<UserPrincipal | null> {
    const value = consoleCookieOf(headers);
    if (!value || !this.people) return null;
    if (headers.origin !== undefined && !sameHost(headers.origin, headers.host)) return null;
    const userId = await this.people.webSessions.userOf(value);
    if (!userId) return null;
    const user = await this.db
      .selectFrom("users")
      .select("instance_admin")
      .where("id", "=", userId)
      .executeTakeFirst();
    if (!user) return null;
    return { kind: "user", userId, instanceAdmin: user.instance_admin, via: "session" };
  }
}

/** The console cookie's value in a request's headers. */
export function consoleCookieOf(headers: { cookie?: string | undefined }): string | undefined {
  if (!headers.cookie?.includes(CONSOLE_COOKIE)) return undefined;
  return parse(headers.cookie)[CONSOLE_COOKIE] || undefined;
}

/** Whether a request's Origin names the host it was sent to (the console's own page). */
export function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

export function bearer(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}
