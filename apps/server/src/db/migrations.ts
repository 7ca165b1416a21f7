import { LOCAL_ADMIN_ID, PREVIEW_CHARS } from "@drydock/contracts";
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
  "0005_teams": { up: teamsMigration },
  "0006_reuse": { up: reuseMigration },
  "0007_post_mortem": { up: postMortemMigration },
  "0008_replicas": { up: replicasMigration },
  "0009_pending_sign_ins": { up: pendingSignInsMigration },
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

/**
 * People, project roles, console sessions, sign-in codes, API keys, session shares, who opened and who is
 * connected to each session, and the append-only audit log. Existing data belongs to the local admin.
 */
async function teamsMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("email", "text", (c) => c.unique().check(sql`email = lower(email)`))
    .addColumn("oidc_issuer", "text")
    .addColumn("oidc_subject", "text")
    .addColumn("instance_admin", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_sign_in_at", "timestamptz")
    .addUniqueConstraint("users_oidc_identity", ["oidc_issuer", "oidc_subject"])
    .execute();
  await sql`INSERT INTO users (id, name, instance_admin) VALUES (${LOCAL_ADMIN_ID}, 'Local admin', true)`.execute(
    db,
  );
  await db.schema
    .createTable("project_members")
    .addColumn("project", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("role", "text", (c) => c.notNull().check(sql`role IN ('viewer', 'editor', 'admin')`))
    .addColumn("added_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("project_members_pk", ["project", "user_id"])
    .execute();
  await sql`INSERT INTO project_members (project, user_id, role) VALUES ('default', ${LOCAL_ADMIN_ID}, 'admin')`.execute(
    db,
  );
  await db.schema
    .createTable("web_sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("revoked_at", "timestamptz")
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .execute();
  await db.schema
    .createTable("sign_in_codes")
    .addColumn("code_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("used_at", "timestamptz")
    .execute();
  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("secret_hash", "text", (c) => c.notNull().unique())
    .addColumn("ceiling", "text", (c) =>
      c.notNull().check(sql`ceiling IN ('viewer', 'editor', 'admin')`),
    )
    .addColumn("project", "text", (c) => c.references("projects.id").onDelete("cascade"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .addColumn("last_used_at", "timestamptz")
    .execute();
  await db.schema.createIndex("api_keys_user").on("api_keys").column("user_id").execute();
  await db.schema
    .alterTable("executions")
    .addColumn("created_by", "text", (c) => c.references("users.id"))
    .execute();
  await sql`UPDATE executions SET created_by = ${LOCAL_ADMIN_ID}`.execute(db);
  await db.schema
    .createTable("session_shares")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("session_id", "text", (c) =>
      c.notNull().references("interactive_sessions.id").onDelete("cascade"),
    )
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("granted_by", "text", (c) => c.notNull().references("users.id"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("revoked_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("session_shares_session_user")
    .on("session_shares")
    .columns(["session_id", "user_id"])
    .execute();
  await db.schema
    .createTable("session_opens")
    .addColumn("session_id", "text", (c) =>
      c.notNull().references("interactive_sessions.id").onDelete("cascade"),
    )
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("first_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("times", "integer", (c) => c.notNull().defaultTo(1))
    .addPrimaryKeyConstraint("session_opens_pk", ["session_id", "user_id"])
    .execute();
  await db.schema
    .createTable("relay_connections")
    .addColumn("relay_id", "text", (c) => c.notNull())
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("connections", "integer", (c) => c.notNull())
    .addColumn("since", "timestamptz", (c) => c.notNull())
    .addColumn("reported_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("relay_connections_pk", ["relay_id", "session_id", "user_id"])
    .execute();
  await db.schema
    .createIndex("relay_connections_session")
    .on("relay_connections")
    .column("session_id")
    .execute();
  await db.schema
    .createTable("audit_log")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("actor_kind", "text", (c) =>
      c.notNull().check(sql`actor_kind IN ('user', 'agent', 'system')`),
    )
    .addColumn("actor_user_id", "text")
    .addColumn("actor_via", "text")
    .addColumn("api_key_id", "text")
    .addColumn("project", "text")
    .addColumn("execution_id", "text")
    .addColumn("node_id", "text")
    .addColumn("session_id", "text")
    .addColumn("detail", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .execute();
  await db.schema
    .createIndex("audit_log_project")
    .on("audit_log")
    .columns(["project", "id"])
    .execute();
  // Append-only: whoever asks, the database refuses to change or remove an entry.
  await sql`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP; END $$`.execute(db);
  await sql`CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`.execute(db);
  await sql`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`.execute(db);
}

/**
 * Reusing outputs: a recovered or forked execution's link to its parent, `--overwrite-cache`, each node's
 * reuse, where a version came from (its sources, or the fork that made it), and the task output cache.
 */
async function reuseMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("executions")
    .addColumn("parent", "jsonb")
    .addColumn("parent_id", "text", (c) => c.references("executions.id"))
    .addColumn("overwrite_cache", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema
    .createIndex("executions_parent_id")
    .on("executions")
    .column("parent_id")
    .execute();
  await db.schema.alterTable("node_executions").addColumn("reused", "jsonb").execute();
  await db.schema
    .alterTable("workflow_versions")
    .addColumn("origin", "jsonb")
    .addColumn("forked_from", "jsonb")
    .execute();
  // Outputs are kept as `json`, like every value a task hands in (see 0004): `jsonb` refuses U+0000.
  await db.schema
    .createTable("task_cache")
    .addColumn("project", "text", (c) => c.notNull().references("projects.id"))
    .addColumn("task", "text", (c) => c.notNull())
    .addColumn("cache_key", "text", (c) => c.notNull())
    .addColumn("inputs_sha256", "text", (c) => c.notNull())
    .addColumn("outputs", "json", (c) => c.notNull())
    .addColumn("outputs_sha256", "text", (c) => c.notNull())
    .addColumn("execution_id", "text", (c) => c.notNull())
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("attempt_id", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("task_cache_pk", ["project", "task", "cache_key", "inputs_sha256"])
    .execute();
}

/**
 * Post-mortem debugging: a session's second limit (nobody opened it) and when it was first opened, where its
 * task's process is paused, the resume choice asked for; how each attempt was resumed; an execution's pause
 * points. `pause` and `resume` are `json`, like every value a task hands in (see 0004).
 */
async function postMortemMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("interactive_sessions")
    .addColumn("max_unopened_seconds", "integer", (c) => c.notNull().defaultTo(9_000))
    .addColumn("opened_at", "timestamptz")
    .addColumn("pause", "json")
    .addColumn("resume_choice", "text")
    .execute();
  // Sessions from before the second limit keep the one they had; one somebody opened is known by its opens.
  await sql`UPDATE interactive_sessions SET max_unopened_seconds = max_idle_seconds,
    opened_at = (SELECT min(first_at) FROM session_opens WHERE session_opens.session_id = interactive_sessions.id)`.execute(
    db,
  );
  await db.schema.alterTable("attempts").addColumn("resume", "json").execute();
  await db.schema
    .alterTable("executions")
    .addColumn("pause_before", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .execute();
}

/**
 * Several server replicas on one database: each running replica has a row and holds an advisory lock on its
 * key for as long as it lives, and each open attempt names the replica that launches and watches it. Attempts
 * from before (no replica) belong to whichever replica starts first, as they belonged to the one server.
 */
async function replicasMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("server_replicas")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("lock_key", "integer", (c) => c.notNull().unique())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("started_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE SEQUENCE server_replica_keys AS integer CYCLE`.execute(db);
  await db.schema.alterTable("attempts").addColumn("replica", "text").execute();
  await sql`CREATE INDEX attempts_open_by_replica ON attempts (replica) WHERE status IN ('QUEUED', 'RUNNING')`.execute(
    db,
  );
}

/** OpenID sign-ins under way, in the database rather than one replica's memory (identity/pending-sign-ins.ts). */
async function pendingSignInsMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("pending_sign_ins")
    .addColumn("handle", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("value", "json", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("pending_sign_ins_by_age")
    .on("pending_sign_ins")
    .columns(["kind", "created_at"])
    .execute();
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
