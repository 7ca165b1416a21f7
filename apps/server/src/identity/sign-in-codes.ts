/**
 * One-time sign-in codes: what `drydock up` and `drydock console` print a link with, instead of a long-lived
 * token. Stored hashed; spent once, within minutes.
 */
import { randomBytes } from "node:crypto";

import { sql } from "kysely";

import type { Db } from "../db/database.js";
import { hashToken } from "../services/agent-token.js";

/** Long enough to click a printed link, short enough that a leaked one is dead. */
export const SIGN_IN_CODE_SECONDS = 10 * 60;

export class SignInCodes {
  constructor(private readonly db: Db) {}

  async issue(userId: string): Promise<{ code: string; expiresAt: Date }> {
    const code = randomBytes(32).toString("base64url");
    const { expires_at } = await this.db
      .insertInto("sign_in_codes")
      .values({
        code_hash: hashToken(code),
        user_id: userId,
        expires_at: sql<Date>`now() + make_interval(secs => ${SIGN_IN_CODE_SECONDS})`,
      })
      .returning("expires_at")
      .executeTakeFirstOrThrow();
    return { code, expiresAt: expires_at };
  }

  /** Spends a code, once (one conditional UPDATE): its user, or undefined for a used, expired or unknown code. */
  async spend(code: string): Promise<string | undefined> {
    const row = await this.db
      .updateTable("sign_in_codes")
      .set({ used_at: sql<Date>`now()` })
      .where("code_hash", "=", hashToken(code))
      .where("used_at", "is", null)
      .where(sql<boolean>`expires_at > now()`)
      .returning("user_id")
      .executeTakeFirst();
    return row?.user_id;
  }
}
