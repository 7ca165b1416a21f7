/**
 * Sign-ins under way — a browser's between the redirect to the provider and its callback, the CLI's device flow
 * between its polls — kept in the database under a random handle for a limited time, so that whichever server
 * replica the callback or the next poll reaches finds them. At most `capacity` of a kind are kept (the oldest
 * go first): the sign-ins anyone may start without being signed in cannot grow the database without bound.
 */
import { randomBytes } from "node:crypto";

import type { Db } from "../db/database.js";

export type PendingKind = "browser" | "device";

export class PendingSignIns<T> {
  constructor(
    private readonly db: Db,
    private readonly kind: PendingKind,
    private readonly ttlMs: number,
    private readonly capacity: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Keeps `value`; resolves to its handle, 32 random bytes in base64url. */
  async put(value: T, ttlMs = this.ttlMs): Promise<string> {
    const now = this.now();
    const handle = randomBytes(32).toString("base64url");
    await this.db.transaction().execute(async (tx) => {
      // The expired go, and the oldest beyond the capacity (room is made for the new one).
      await tx
        .deleteFrom("pending_sign_ins")
        .where("kind", "=", this.kind)
        .where((eb) =>
          eb.or([
            eb("expires_at", "<=", now),
            eb(
              "handle",
              "in",
              eb
                .selectFrom("pending_sign_ins")
                .select("handle")
                .where("kind", "=", this.kind)
                .orderBy("created_at", "desc")
                .offset(this.capacity - 1),
            ),
          ]),
        )
        .execute();
      await tx
        .insertInto("pending_sign_ins")
        .values({
          handle,
          kind: this.kind,
          value: JSON.stringify(value),
          created_at: now,
          expires_at: new Date(now.getTime() + ttlMs),
        })
        .execute();
    });
    return handle;
  }

  async get(handle: string): Promise<T | undefined> {
    const row = await this.db
      .selectFrom("pending_sign_ins")
      .select("value")
      .where("handle", "=", handle)
      .where("kind", "=", this.kind)
      .where("expires_at", ">", this.now())
      .executeTakeFirst();
    return row ? (row.value as T) : undefined;
  }

  /** The value, removed: what a single-use handle needs (of two takes at once, one gets it). */
  async take(handle: string): Promise<T | undefined> {
    const row = await this.db
      .deleteFrom("pending_sign_ins")
      .where("handle", "=", handle)
      .where("kind", "=", this.kind)
      .returning(["value", "expires_at"])
      .executeTakeFirst();
    return row && row.expires_at > this.now() ? (row.value as T) : undefined;
  }

  /** Replaces a kept value (its time left stays). */
  async update(handle: string, value: T): Promise<void> {
    await this.db
      .updateTable("pending_sign_ins")
      .set({ value: JSON.stringify(value) })
      .where("handle", "=", handle)
      .where("kind", "=", this.kind)
      .execute();
  }

  async delete(handle: string): Promise<void> {
    await this.db
      .deleteFrom("pending_sign_ins")
      .where("handle", "=", handle)
      .where("kind", "=", this.kind)
      .execute();
  }
}
