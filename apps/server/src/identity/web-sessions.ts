/** The console's server-side sessions: the cookie holds a random id, the database its hash; sign-out revokes. */
import { randomBytes } from "node:crypto";

import { sql } from "kysely";

import type { ClientInfo } from "@drydock/contracts/router";

import type { Db } from "../db/database.js";
import { hashToken } from "../services/agent-token.js";

/** How long a console sign-in lasts. */
export const WEB_SESSION_SECONDS = 7 * 24 * 3_600;

export class WebSessions {
  constructor(private readonly db: Db) {}

  /** A new session for `userId`: the cookie value (shown only to the browser) and when it stops working. */
  async start(userId: string, client: ClientInfo): Promise<{ cookie: string; expiresAt: Date }> {
    const cookie = randomBytes(32).toString("base64url");
    const { expires_at } = await this.db
      .insertInto("web_sessions")
      .values({
        id_hash: hashToken(cookie),
        user_id: userId,
        expires_at: sql<Date>`now() + make_interval(secs => ${WEB_SESSION_SECONDS})`,
        ip: client.ip ?? null,
        user_agent: client.userAgent ?? null,
      })
      .returning("expires_at")
      .executeTakeFirstOrThrow();
    return { cookie, expiresAt: expires_at };
  }

  /** The user of a cookie value, unless the session expired or was revoked. */
  async userOf(cookie: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("web_sessions")
      .select("user_id")
      .where("id_hash", "=", hashToken(cookie))
      .where("revoked_at", "is", null)
      .where(sql<boolean>`expires_at > now()`)
      .executeTakeFirst();
    return row?.user_id;
  }

  /** Ends the session of a cookie value (sign-out); its user, if it was live. */
  async revoke(cookie: string): Promise<string | undefined> {
    const row = await this.db
      .updateTable("web_sessions")
      .set({ revoked_at: sql<Date>`now()` })
      .where("id_hash", "=", hashToken(cookie))
      .where("revoked_at", "is", null)
      .returning("user_id")
      .executeTakeFirst();
    return row?.user_id;
  }
}
