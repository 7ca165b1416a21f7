import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createDatabase } from "../db/database.js";
import type { Db } from "../db/database.js";
import { migrateToLatest } from "../db/migrations.js";
import { startEmbeddedPostgres } from "../db/postgres.js";
import { createLogger } from "../logger.js";

/** A real, migrated PostgreSQL in a temp dir, for tests; `close` stops it and removes everything. */
export async function testDatabase(): Promise<{
  db: Db;
  dir: string;
  url: string;
  close(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "drydock-test-pg-"));
  const pg = await startEmbeddedPostgres(dir, createLogger("silent"));
  const db = createDatabase(pg.url);
  await migrateToLatest(db as never);
  return {
    db,
    dir,
    url: pg.url,
    close: async () => {
      await db.destroy();
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
