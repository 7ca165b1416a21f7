import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";

import type { Logger } from "../logger.js";
import type { Database } from "./schema.js";

export type Db = Kysely<Database>;

export function createDatabase(url: string, log?: Logger): Db {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle connection that the server closes (restart, shutdown) is replaced on next use, not fatal.
  pool.on("error", (err) => log?.warn({ err }, "a PostgreSQL connection was closed"));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
