import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T = unknown> = ColumnType<T, string, string>;
/** A timestamp the database fills in on insert. */
type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

export interface ProjectsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface BundlesTable {
  sha256: string;
  size: number;
  created_at: CreatedAt;
}

export interface WorkflowVersionsTable {
  project: string;
  name: string;
  version: string;
  bundle: string;
  entry: string;
  spec: Json;
  tasks: Json;
  created_at: CreatedAt;
}

export interface ExecutionsTable {
  id: string;
  project: string;
  workflow: string;
  version: string;
  status: string;
  inputs: Json;
  result: Json | null;
  error: Json | null;
  created_at: CreatedAt;
  ended_at: Timestamp | null;
  /** Set on a debug run: the node of a past execution it re-runs interactively, and that node's task. */
  debug_of: Json<DebugOf> | null;
  /** The size of `inputs` and `result` as JSON text, and their first characters, for lists (null before 0004). */
  inputs_bytes: number | null;
  inputs_preview: string | null;
  result_bytes: number | null;
  result_preview: string | null;
}

export interface DebugOf {
  executionId: string;
  nodeId: string;
  task: string;
}

export interface NodeExecutionsTable {
  execution_id: string;
  node_id: string;
  task: string;
  parent_node_id: string | null;
  map_index: number | null;
  status: string;
  inputs: Json | null;
  outputs: Json | null;
  error: Json | null;
  children_total: number | null;
  children_done: Generated<number>;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
}

export interface AttemptsTable {
  id: string;
  execution_id: string;
  node_id: string;
  number: number;
  status: string;
  /** Platform re-runs (lost agents) do not spend the task's own retries. */
  lost_count: Generated<number>;
  token_hash: string | null;
  pid: number | null;
  /** The agent process running it, named by the attempt it was launched for (a warm agent runs several). */
  agent: string | null;
  /** The attempt this one's agent was handed next: a retried `agent.next` gets the same one back. */
  handed_to: string | null;
  error: Json | null;
  outputs_sha256: string | null;
  deadline_at: Timestamp | null;
  heartbeat_at: Timestamp | null;
  created_at: CreatedAt;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
  /** Log lines of the attempt the server could not store, and why the first ones could not. */
  log_lost_lines: Generated<number>;
  log_lost_reason: string | null;
}

export interface InteractiveSessionsTable {
  id: string;
  attempt_id: string;
  state: string;
  link: string | null;
  max_idle_seconds: Generated<number>;
  /** Set (on the database's clock) when the session opens, and moved on by activity and keep-alives. */
  idle_deadline: Timestamp | null;
  /** A user asked to resume; the agent sees it at its next heartbeat. */
  resume_requested_at: Timestamp | null;
  extension_problems: ColumnType<unknown, string | undefined, string>;
  end_reason: string | null;
  first_run_error: Json | null;
  /** The IDE's edits as a unified diff against the registered sources, as the agent last saved them. */
  changes: string | null;
  changes_at: Timestamp | null;
  created_at: CreatedAt;
  ended_at: Timestamp | null;
}

export interface IdeTicketsTable {
  /** sha256 (hex) of the ticket; the ticket itself is only ever in the link handed to the user. */
  token_hash: string;
  session_id: string;
  user_id: string;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  created_at: CreatedAt;
}

export interface Database {
  projects: ProjectsTable;
  bundles: BundlesTable;
  workflow_versions: WorkflowVersionsTable;
  executions: ExecutionsTable;
  node_executions: NodeExecutionsTable;
  attempts: AttemptsTable;
  interactive_sessions: InteractiveSessionsTable;
  ide_tickets: IdeTicketsTable;
}

export type ExecutionRow = Selectable<ExecutionsTable>;
export type NodeRow = Selectable<NodeExecutionsTable>;
export type AttemptRow = Selectable<AttemptsTable>;
export type SessionRow = Selectable<InteractiveSessionsTable>;
export type NewAttempt = Insertable<AttemptsTable>;
