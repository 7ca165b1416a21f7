import { createHash, timingSafeEqual } from "node:crypto";

import type { Principal } from "@drydock/contracts/router";

import type { Db } from "./db/database.js";
import { hashToken } from "./services/agent-token.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Turns a bearer token into a principal: the local user's token, the relay token, or an attempt's agent token. */
export class Authenticator {
  private readonly userDigest: Buffer;
  private readonly relayDigest: Buffer;
  /**
   * Agent token hash → attempt. A token names one attempt forever, so a hit needs no query; whether the
   * attempt may still act (it has not ended) is decided for every agent call by AgentAccess. Bounded: the
   * oldest entries go first.
   */
  private readonly agents = new Map<string, string>();
  private static readonly MAX_CACHED_AGENTS = 10_000;

  constructor(
    private readonly db: Db,
    userToken: string,
    relayToken: string,
  ) {
    // Equal tokens would make every relay a user (the user is matched first); refuse to start that way.
    if (userToken === relayToken)
      throw new Error(
        "the relay token (DRYDOCK_RELAY_TOKEN) must differ from the user token (DRYDOCK_TOKEN)",
      );
    this.userDigest = digest(userToken);
    this.relayDigest = digest(relayToken);
  }

  /** Whether `token` is the local user's (what the console's sign-in checks). */
  isUserToken(token: string): boolean {
    return timingSafeEqual(digest(token), this.userDigest);
  }

  async principal(token: string | undefined): Promise<Principal | null> {
    if (!token) return null;
    const presented = digest(token);
    if (timingSafeEqual(presented, this.userDigest)) return { kind: "user", userId: "local" };
    if (timingSafeEqual(presented, this.relayDigest)) return { kind: "relay" };
    const hash = hashToken(token);
    let attemptId = this.agents.get(hash);
    if (attemptId === undefined) {
      attemptId = (
        await this.db
          .selectFrom("attempts")
          .select("id")
          .where("token_hash", "=", hash)
          .executeTakeFirst()
      )?.id;
      if (attemptId === undefined) return null;
      if (this.agents.size >= Authenticator.MAX_CACHED_AGENTS)
        this.agents.delete(this.agents.keys().next().value as string);
      this.agents.set(hash, attemptId);
    }
    return { kind: "agent", attemptId };
  }
}

export function bearer(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}
