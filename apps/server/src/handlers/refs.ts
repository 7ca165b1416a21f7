/** What an audit entry names, looked up from an attempt or a session the call knows by id. */
import type { Db } from "../db/database.js";
import type { AuditRefs } from "../identity/audit-log.js";

/** The project, execution, node and latest session of an attempt. */
export async function attemptRefs(db: Db, attemptId: string): Promise<AuditRefs> {
  const row = await db
    .selectFrom("attempts as a")
    .innerJoin("executions as x", "x.id", "a.execution_id")
    .select([
      "x.project",
      "a.execution_id",
      "a.node_id",
      (eb) =>
        eb
          .selectFrom("interactive_sessions as s")
          .select("s.id")
          .whereRef("s.attempt_id", "=", "a.id")
          .orderBy("s.created_at", "desc")
          .limit(1)
          .as("session_id"),
    ])
    .where("a.id", "=", attemptId)
    .executeTakeFirst();
  if (!row) return {};
  return {
    project: row.project,
    executionId: row.execution_id,
    nodeId: row.node_id,
    sessionId: row.session_id ?? undefined,
  };
}

/** The project, execution and node of a session. */
export async function sessionRefs(db: Db, sessionId: string): Promise<AuditRefs> {
  const row = await db
    .selectFrom("interactive_sessions as s")
    .innerJoin("attempts as a", "a.id", "s.attempt_id")
    .innerJoin("executions as x", "x.id", "a.execution_id")
    .select(["x.project", "a.execution_id", "a.node_id"])
    .where("s.id", "=", sessionId)
    .executeTakeFirst();
  return row
    ? { project: row.project, executionId: row.execution_id, nodeId: row.node_id, sessionId }
    : { sessionId };
}
