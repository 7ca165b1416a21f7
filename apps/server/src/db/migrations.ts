import { PREVIEW_CHARS } from "@drydock/contracts";
import { sql } from "kysely";
import type { Kysely, Migration, MigrationProvider } from "kysely";
import { Migrator } from "kysely";

/** Migrations live in code (not files) so the bundled server carries them; names sort in order. */
const migrations: Record<string, Migration> = {
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("projects")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable("bundles")
        .addColumn("sha256", "text", (c) => c.primaryKey())
        .addColumn("size", "integer", (c) => c.notNull())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable("workflow_versions")
        .addColumn("project", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("bundle", "text", (c) => c.notNull().references("bundles.sha256"))
        .addColumn("entry", "text", (c) => c.notNull())
        .addColumn("spec", "jsonb", (c) => c.notNull())
        .addColumn("tasks", "jsonb", (c) => c.notNull())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint("workflow_versions_pk", ["project", "name", "version"])
        .execute();
      await db.schema
        .createTable("executions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("workflow", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("inputs", "jsonb", (c) => c.notNull())
        .addColumn("result", "jsonb")
        .addColumn("error", "jsonb")
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("ended_at", "timestamptz")
        .execute();
      await db.schema
        .createIndex("executions_project_created")
        .on("executions")
        .columns(["project", "created_at"])
        .execute();
      await db.schema
        .createTable("node_executions")
        .addColumn("execution_id", "text", (c) =>
          c.notNull().references("executions.id").onDelete("cascade"),
        )
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("task", "text", (c) => c.notNull())
        .addColumn("parent_node_id", "text")
        .addColumn("map_index", "integer")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("inputs", "jsonb")
        .addColumn("outputs", "jsonb")
        .addColumn("error", "jsonb")
        .addColumn("children_total", "integer")
        .addColumn("children_done", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("started_at", "timestamptz")
        .addColumn("ended_at", "timestamptz")
        .addPrimaryKeyConstraint("node_executions_pk", ["execution_id", "node_id"])
        .execute();
      await db.schema
        .createTable("attempts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("execution_id", "text", (c) =>
          c.notNull().references("executions.id").onDelete("cascade"),
        )
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("number", "integer", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("lost_count", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("token_hash", "text")
        .addColumn("pid", "integer")
        .addColumn("agent", "text")
        .addColumn("handed_to", "text")
        .addColumn("error", "jsonb")
        .addColumn("outputs_sha256", "text")
        .addColumn("deadline_at", "timestamptz")
        .addColumn("heartbeat_at", "timestamptz")
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("started_at", "timestamptz")
        .addColumn("ended_at", "timestamptz")
        .addUniqueConstraint("attempts_node_number", ["execution_id", "node_id", "number"])
        .execute();
      await db.schema
        .createIndex("attempts_token_hash")
        .on("attempts")
        .column("token_hash")
        .execute();
      await db.schema.createIndex("attempts_status").on("attempts").column("status").execute();
      await db.schema
        .createTable("interactive_sessions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("attempt_id", "text", (c) =>
          c.notNull().references("attempts.id").onDelete("cascade"),
        )
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("link", "text")
        .addColumn("idle_deadline", "timestamptz")
        .addColumn("end_reason", "text")
        .addColumn("first_run_error", "jsonb")
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("ended_at", "timestamptz")
        .execute();
      await sql`INSERT INTO projects (id, name) VALUES ('default', 'Default project')`.execute(db);
    },
  },
  "0002_relay_access": {
    async up(db: Kysely<unknown>) {
      // Single-use links into a session's IDE; only the ticket's sha256 is kept.
      await db.schema
        .createTable("ide_tickets")
        .addColumn("token_hash", "text", (c) => c.primaryKey())
        .addColumn("session_id", "text", (c) =>
          c.notNull().references("interactive_sessions.id").onDelete("cascade"),
        )
        .addColumn("user_id", "text", (c) => c.notNull())
        .addColumn("expires_at", "timestamptz", (c) => c.notNull())
        .addColumn("used_at", "timestamptz")
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createIndex("ide_tickets_session_id")
        .on("ide_tickets")
        .column("session_id")
        .execute();
      // At most one live session per attempt, so two racing agent.openSession calls cannot open two.
      await db.schema
        .createIndex("interactive_sessions_live_attempt")
        .on("interactive_sessions")
        .column("attempt_id")
        .unique()
        .where(sql.ref("state"), "<>", "ENDED")
        .execute();
    },
  },
  "0003_interactive": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable("interactive_sessions")
        .addColumn("max_idle_seconds", "integer", (c) => c.notNull().defaultTo(36_000))
        .addColumn("resume_requested_at", "timestamptz")
        .addColumn("extension_problems", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
        .addColumn("changes", "text")
        .addColumn("changes_at", "timestamptz")
        .execute();
      // Sessions opened before idle deadlines existed get the default one, so the agent's heartbeat can act on it.
      await sql`UPDATE interactive_sessions SET idle_deadline = now() + make_interval(secs => max_idle_seconds) WHERE state <> 'ENDED' AND idle_deadline IS NULL`.execute(
        db,
      );
      // A node's latest session, of any state (sessions.changes, agent.updateSession).
      await db.schema
        .createIndex("interactive_sessions_attempt_created")
        .on("interactive_sessions")
        .columns(["attempt_id", "created_at"])
        .execute();
      // A debug run (`drydock debug`): the node of a past execution it re-runs, and that node's task.
      await db.schema.alterTable("executions").addColumn("debug_of", "jsonb").execute();
    },
  },
  "0004_lossless_values": {
    async up(db: Kysely<unknown>) {
      // Values users and tasks hand in (inputs, outputs, errors, schemas) are kept as `json`, which stores the
      // text as given: `jsonb` refuses U+0000 ("\u0000") in any string. Nothing queries inside these columns.
      const valueColumns: Record<string, string[]> = {
        executions: ["inputs", "result", "error"],
        node_executions: ["inputs", "outputs", "error"],
        attempts: ["error"],
        interactive_sessions: ["first_run_error"],
        workflow_versions: ["spec", "tasks"],
      };
      for (const [table, columns] of Object.entries(valueColumns)) {
        const changes = columns.map(
          (c) => sql`ALTER COLUMN ${sql.ref(c)} TYPE json USING ${sql.ref(c)}::json`,
        );
        await sql`ALTER TABLE ${sql.table(table)} ${sql.join(changes)}`.execute(db);
      }
      // Lists show an execution's inputs and result by size and preview, kept when they are written.
      await db.schema
        .alterTable("executions")
        .addColumn("inputs_bytes", "integer")
        .addColumn("inputs_preview", "text")
        .addColumn("result_bytes", "integer")
        .addColumn("result_preview", "text")
        .execute();
      const preview = (column: string) =>
        sql`CASE WHEN char_length(${sql.ref(column)}::text) > ${sql.lit(PREVIEW_CHARS)} THEN left(${sql.ref(column)}::text, ${sql.lit(PREVIEW_CHARS - 1)}) || '…' ELSE ${sql.ref(column)}::text END`;
      await sql`UPDATE executions SET inputs_bytes = octet_length(inputs::text), inputs_preview = ${preview("inputs")},
        result_bytes = octet_length(result::text), result_preview = ${preview("result")}`.execute(
        db,
      );
      // Task log lines the server could not store: how many, and the first reason.
      await db.schema
        .alterTable("attempts")
        .addColumn("log_lost_lines", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("log_lost_reason", "text")
        .execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/** What a migration threw, as text: a non-Error object as JSON rather than "[object Object]". */
function describeMigrationError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error !== "object" || error === null) return String(error);
  try {
    return JSON.stringify(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/** Brings the schema up to date; fails loudly with the migration that broke. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`database migration ${failed} failed: ${describeMigrationError(error)}`, {
      cause: error,
    });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
