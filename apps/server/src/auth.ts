import { createHash, timingSafeEqual } from "node:crypto";

import type { Principal } from "@drydock/contracts/router";

import type { Db } from "./db/database.js";
import { hashToken } from "./services/scheduler.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Turns a bearer token into a principal: the local user's token, or an attempt's agent token. */
export class Authenticator {
  private readonly userDigest: Buffer;

  constructor(
    private readonly db: Db,
    userToken: string,
  ) {
    this.userDigest = digest(userToken);
  }

  async principal(token: string | undefined): Promise<Principal | null> {
    if (!token) return null;
    if (timingSafeEqual(digest(token), this.userDigest)) return { kind: "user", userId: "local" };
    const attempt = await this.db.selectFrom("attempts").select("id").where("token_hash", "=", hashToken(token)).executeTakeFirst();
    return attempt ? { kind: "agent", attemptId: attempt.id } : null;
  }
}

export function bearer(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}
