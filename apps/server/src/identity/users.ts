/** The instance's people: looked up by id or email, added by email before they first sign in. */
import { randomBytes } from "node:crypto";

import type { User, UserRef } from "@drydock/contracts";

import type { Db } from "../db/database.js";
import type { UserRow } from "../db/schema.js";
import { ServerErrors } from "../errors.js";

/** User ids: `u` + 16 hex characters; never an email, so an id and an email cannot be mistaken. */
export function newUserId(): string {
  return `u${randomBytes(8).toString("hex")}`;
}

/** A reference to a person in an input: an email if it holds an `@`, an id otherwise. */
export const isEmail = (ref: string) => ref.includes("@");

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    name: row.name,
    ...(row.email ? { email: row.email } : {}),
    instanceAdmin: row.instance_admin,
    createdAt: row.created_at.toISOString(),
    ...(row.last_sign_in_at ? { lastSignInAt: row.last_sign_in_at.toISOString() } : {}),
  };
}

export const toUserRef = (row: { id: string; name: string }): UserRef => ({
  id: row.id,
  name: row.name,
});

export class UserStore {
  constructor(private readonly db: Db) {}

  async byId(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** The user an input names (id or email), or undefined. */
  async find(ref: string): Promise<UserRow | undefined> {
    const trimmed = ref.trim();
    if (!isEmail(trimmed)) return this.byId(trimmed);
    return this.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", trimmed.toLowerCase())
      .executeTakeFirst();
  }

  /** The user an input names, or NOT_FOUND naming what was asked for. */
  async require(ref: string): Promise<UserRow> {
    const row = await this.find(ref);
    if (!row) throw ServerErrors.userNotFound(ref);
    return row;
  }

  /**
   * The user an input names; an email nobody has yet becomes a pending person (named by the email), who
   * turns into a signed-in user at their first OpenID sign-in with that verified email.
   */
  async findOrAddByEmail(ref: string): Promise<UserRow> {
    const found = await this.find(ref);
    if (found) return found;
    if (!isEmail(ref)) throw ServerErrors.userNotFound(ref);
    const email = ref.trim().toLowerCase();
    await this.db
      .insertInto("users")
      .values({ id: newUserId(), name: email, email })
      .onConflict((oc) => oc.column("email").doNothing())
      .execute();
    return this.require(email);
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom("users").selectAll().orderBy("created_at").execute();
    return rows.map(toUser);
  }

  /** Records a sign-in (the console's "last signed in"). */
  async signedIn(id: string): Promise<void> {
    await this.db
      .updateTable("users")
      .set({ last_sign_in_at: new Date() })
      .where("id", "=", id)
      .execute();
  }
}
