/**
 * API keys for scripts and CI: `ddk_` and 43 random characters, shown once; only their sha256 is kept, with a
 * prefix to recognise them by. A key acts as its user with at most its ceiling, in one project if limited.
 */
import { randomBytes } from "node:crypto";

import type { ApiKey, Role } from "@drydock/contracts";
import type { UserPrincipal } from "@drydock/contracts/router";
import { sql } from "kysely";

import type { Db } from "../db/database.js";
import type { ApiKeyRow } from "../db/schema.js";
import { ServerErrors } from "../errors.js";
import { hashToken } from "../services/agent-token.js";

/** Every key starts with this, so a leaked one is recognisable (and secret scanners can find it). */
export const API_KEY_PREFIX = "ddk_";
/** A key's `last_used_at` moves at most this often: a busy script must not write on every call. */
const LAST_USED_RESOLUTION_SECONDS = 60;
/** The characters of a key kept to recognise it (`ddk_` and 8 more). */
const SHOWN_CHARS = 12;

export const isApiKey = (token: string) => token.startsWith(API_KEY_PREFIX);

export interface NewApiKey {
  name: string;
  ceiling: Role;
  project?: string | undefined;
  expiresInDays?: number | undefined;
}

type KeyView = ApiKeyRow & { owner_name: string };

function toApiKey(row: KeyView): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    owner: { id: row.user_id, name: row.owner_name },
    ceiling: row.ceiling,
    ...(row.project ? { project: row.project } : {}),
    createdAt: row.created_at.toISOString(),
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
    ...(row.last_used_at ? { lastUsedAt: row.last_used_at.toISOString() } : {}),
    ...(row.revoked_at ? { revokedAt: row.revoked_at.toISOString() } : {}),
  };
}

export class ApiKeys {
  constructor(private readonly db: Db) {}

  private view() {
    return this.db
      .selectFrom("api_keys")
      .innerJoin("users", "users.id", "api_keys.user_id")
      .selectAll("api_keys")
      .select("users.name as owner_name");
  }

  /** A new key of `userId`'s; the secret is in the answer only. */
  async create(userId: string, key: NewApiKey): Promise<{ key: ApiKey; secret: string }> {
    const secret = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
    const id = `k${randomBytes(8).toString("hex")}`;
    await this.db
      .insertInto("api_keys")
      .values({
        id,
        user_id: userId,
        name: key.name,
        prefix: secret.slice(0, SHOWN_CHARS),
        secret_hash: hashToken(secret),
        ceiling: key.ceiling,
        project: key.project ?? null,
        expires_at:
          key.expiresInDays === undefined
            ? null
            : sql<Date>`now() + make_interval(days => ${key.expiresInDays})`,
      })
      .execute();
    return { key: await this.get(id), secret };
  }

  async get(id: string): Promise<ApiKey> {
    const row = await this.view().where("api_keys.id", "=", id).executeTakeFirst();
    if (!row) throw ServerErrors.apiKeyNotFound(id);
    return toApiKey(row);
  }

  /** A user's keys, newest first, revoked ones included (marked). */
  async listOf(userId: string): Promise<ApiKey[]> {
    const rows = await this.view()
      .where("api_keys.user_id", "=", userId)
      .orderBy("api_keys.created_at", "desc")
      .execute();
    return rows.map(toApiKey);
  }

  /** The keys limited to a project, whoever made them. */
  async listOfProject(project: string): Promise<ApiKey[]> {
    const rows = await this.view()
      .where("api_keys.project", "=", project)
      .orderBy("api_keys.created_at", "desc")
      .execute();
    return rows.map(toApiKey);
  }

  /** Revokes a key that `owner` made, or (`project`) one limited to that project; NOT_FOUND otherwise. */
  async revoke(id: string, scope: { owner: string } | { project: string }): Promise<ApiKey> {
    let query = this.db
      .updateTable("api_keys")
      .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
      .where("id", "=", id);
    query =
      "owner" in scope
        ? query.where("user_id", "=", scope.owner)
        : query.where("project", "=", scope.project);
    const row = await query.returning("id").executeTakeFirst();
    if (!row) throw ServerErrors.apiKeyNotFound(id);
    return this.get(id);
  }

  /** The principal a key acts as, or null for an unknown, revoked or expired one (the caller answers 401). */
  async principal(secret: string): Promise<UserPrincipal | null> {
    const row = await this.db
      .selectFrom("api_keys")
      .innerJoin("users", "users.id", "api_keys.user_id")
      .select([
        "api_keys.id",
        "api_keys.user_id",
        "api_keys.ceiling",
        "api_keys.project",
        "users.instance_admin",
      ])
      .where("api_keys.secret_hash", "=", hashToken(secret))
      .where("api_keys.revoked_at", "is", null)
      .where(sql<boolean>`(api_keys.expires_at IS NULL OR api_keys.expires_at > now())`)
      .executeTakeFirst();
    if (!row) return null;
    await this.db
      .updateTable("api_keys")
      .set({ last_used_at: sql<Date>`now()` })
      .where("id", "=", row.id)
      .where(
        sql<boolean>`(last_used_at IS NULL OR last_used_at < now() - make_interval(secs => ${LAST_USED_RESOLUTION_SECONDS}))`,
      )
      .execute();
    return {
      kind: "user",
      userId: row.user_id,
      instanceAdmin: row.instance_admin,
      via: "apiKey",
      ceiling: row.ceiling,
      apiKeyId: row.id,
      ...(row.project ? { onlyProject: row.project } : {}),
    };
  }
}
