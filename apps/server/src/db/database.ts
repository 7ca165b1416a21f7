import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";

import type { Logger } from "../logger.js";
import type { Database } from "./schema.js";

export type Db = Kysely<Database>;

const pools = new WeakMap<Db, pg.Pool>();

export function createDatabase(url: string, log?: Logger): Db {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle connection that the server closes (restart, shutdown) is replaced on next use, not fatal. Once the
  // pool is ending (the server stops), a connection's end racing the database's own shutdown is expected: silent.
  pool.on("error", (err) => {
    if (!pool.ending) log?.warn({ err }, "a PostgreSQL connection was closed");
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

/**
 * A connection of the database's pool kept for one holder (a session's advisory locks live as long as it),
 * until `release`. `onLost` hears it break, so the holder knows its locks are gone.
 */
export async function holdConnection(
  db: Db,
  onLost: (error: Error) => void,
): Promise<{ client: pg.PoolClient; release(): void }> {
  const pool = pools.get(db);
  if (!pool) throw new Error("holdConnection: the database was not made by createDatabase");
  const client = await pool.connect();
  let released = false;
  const lost = (error: Error) => {
    if (released) return;
    released = true;
    client.release(error);
    onLost(error);
  };
  client.on("error", lost);
  return {
    client,
    release: () => {
      if (released) return;
      released = true;
      client.off("error", lost);
      // Destroyed rather than pooled: whatever the holder's session still held goes with it.
      client.release(true);
    },
  };
}
