/**
 * Who is connected to which session now, as relays report it: each report replaces that relay's picture; a
 * relay that stops reporting drops out after `CONNECTED_SECONDS`.
 */
import type { SessionAccess } from "@drydock/contracts";
import { CONNECTION_REPORT_SECONDS } from "@drydock/contracts";
import type { z } from "zod";
import type { ReportConnectionsInput } from "@drydock/contracts";
import { sql } from "kysely";

import type { Db } from "../db/database.js";

/** Three missed reports and a relay's picture no longer counts. */
export const CONNECTED_SECONDS = 3 * CONNECTION_REPORT_SECONDS;

export class ConnectionRegistry {
  constructor(private readonly db: Db) {}

  /** Replaces everything `relayId` reported before with this report. */
  async report(input: z.output<typeof ReportConnectionsInput>): Promise<void> {
    const rows = input.sessions.flatMap((s) =>
      s.users.map((u) => ({
        relay_id: input.relayId,
        session_id: s.sessionId,
        user_id: u.userId,
        connections: u.connections,
        since: u.since,
      })),
    );
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom("relay_connections").where("relay_id", "=", input.relayId).execute();
      // A big report goes in slices: PostgreSQL takes at most 65,535 parameters per statement.
      for (let i = 0; i < rows.length; i += 5_000)
        await tx
          .insertInto("relay_connections")
          .values(rows.slice(i, i + 5_000))
          .onConflict((oc) =>
            oc.columns(["relay_id", "session_id", "user_id"]).doUpdateSet({
              connections: sql<number>`relay_connections.connections + excluded.connections`,
            }),
          )
          .execute();
    });
  }

  /** Who is connected to the session now, by user, over every relay that reported recently. */
  async connected(sessionId: string): Promise<SessionAccess["connected"]> {
    const rows = await this.db
      .selectFrom("relay_connections as c")
      .innerJoin("users as u", "u.id", "c.user_id")
      .select([
        "c.user_id",
        "u.name",
        sql<number>`sum(c.connections)::int`.as("connections"),
        sql<Date>`min(c.since)`.as("since"),
      ])
      .where("c.session_id", "=", sessionId)
      .where(sql<boolean>`c.reported_at > now() - make_interval(secs => ${CONNECTED_SECONDS})`)
      .groupBy(["c.user_id", "u.name"])
      .orderBy("since")
      .execute();
    return rows.map((r) => ({
      user: { id: r.user_id, name: r.name },
      connections: r.connections,
      since: new Date(r.since).toISOString(),
    }));
  }
}
