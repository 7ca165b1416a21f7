import type {
  ExecutionParent,
  ForkLineage,
  NodeReuse,
  PauseInfo,
  ResumeRecord,
  SourceOrigin,
} from "@drydock/contracts";
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
  /** Where its latest registration's sources came from (absent for a forked version). */
  origin: Json<SourceOrigin> | null;
  /** Set on a version made by `fork`: the version, execution, node and IDE edit it came from. */
  forked_from: Json<ForkLineage> | null;
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
  /** Who launched it (the owner of its sessions); the local admin for executions from before people existed. */
  created_by: string | null;
  /** Set on a recovered or forked execution: the one it came from; `parent_id` is its id, for lookups. */
  parent: Json<ExecutionParent> | null;
  parent_id: string | null;
  /** `--overwrite-cache`: cached tasks run again and replace their entries. */
  overwrite_cache: ColumnType<boolean, boolean | undefined, boolean>;
  /** Pause points (`--pause-before`): workflow node ids (a fan-out's pauses each element), or a debug run's node. */
  pause_before: ColumnType<string[], string[] | undefined, string[]>;
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
  /** Set when the node SUCCEEDED with outputs reused from the parent execution or the task cache. */
  reused: Json<NodeReuse> | null;
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
  /** How its session was resumed (which choice, by whom, when); the first one recorded stays. */
  resume: Json<ResumeRecord> | null;
  /** The server replica that launches and watches it while it is open (services/scheduler/replicas.ts). */
  replica: string | null;
}

/** An OpenID sign-in under way (identity/pending-sign-ins.ts): whichever replica its next step reaches reads it. */
export interface PendingSignInsTable {
  handle: string;
  kind: string;
  value: Json;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** A server replica that is running, or that stopped and whose attempts no live replica has taken over yet. */
export interface ServerReplicasTable {
  id: string;
  /** The advisory lock it holds while it lives: whoever can take it knows the replica is gone. */
  lock_key: number;
  host: string;
  started_at: CreatedAt;
}

/** One task's outputs for one cache key and inputs hash: the latest successful run's (see services/reuse.ts). */
export interface TaskCacheTable {
  project: string;
  task: string;
  cache_key: string;
  inputs_sha256: string;
  outputs: Json;
  outputs_sha256: string;
  execution_id: string;
  node_id: string;
  attempt_id: string;
  created_at: CreatedAt;
}

export interface InteractiveSessionsTable {
  id: string;
  attempt_id: string;
  state: string;
  link: string | null;
  max_idle_seconds: Generated<number>;
  /** How long the session stays up while nobody has opened its IDE. */
  max_unopened_seconds: Generated<number>;
  /** When someone first opened its IDE (a ticket redeemed, or activity): from then on `max_idle_seconds` applies. */
  opened_at: Timestamp | null;
  /**
   * Set (on the database's clock) when the session opens, `max_unopened_seconds` away; once opened, moved on
   * by activity and keep-alives.
   */
  idle_deadline: Timestamp | null;
  /** A user asked to resume; the agent sees it at its next heartbeat. */
  resume_requested_at: Timestamp | null;
  /** …with this choice (`edited`, or for a paused task `original` or `fail`). */
  resume_choice: string | null;
  /** While the task's process is paused in this session: where and why. */
  pause: Json<PauseInfo> | null;
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

export interface UsersTable {
  id: string;
  name: string;
  /** Lower-case; null for a person known only by their provider's subject. */
  email: string | null;
  oidc_issuer: string | null;
  oidc_subject: string | null;
  instance_admin: Generated<boolean>;
  created_at: CreatedAt;
  last_sign_in_at: Timestamp | null;
}

export interface ProjectMembersTable {
  project: string;
  user_id: string;
  role: "viewer" | "editor" | "admin";
  added_at: CreatedAt;
}

export interface WebSessionsTable {
  /** sha256 (hex) of the console cookie's value; the value itself is only in the browser. */
  id_hash: string;
  user_id: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  ip: string | null;
  user_agent: string | null;
}

export interface SignInCodesTable {
  code_hash: string;
  user_id: string;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  /** sha256 (hex) of the whole key. */
  secret_hash: string;
  ceiling: "viewer" | "editor" | "admin";
  project: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

export interface SessionSharesTable {
  id: Generated<string>;
  session_id: string;
  user_id: string;
  granted_by: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface SessionOpensTable {
  session_id: string;
  user_id: string;
  first_at: CreatedAt;
  last_at: CreatedAt;
  times: Generated<number>;
}

export interface RelayConnectionsTable {
  relay_id: string;
  session_id: string;
  user_id: string;
  connections: number;
  since: Timestamp;
  reported_at: CreatedAt;
}

export interface AuditLogTable {
  /** bigserial: pg hands it back as a string. */
  id: Generated<string>;
  at: CreatedAt;
  action: string;
  actor_kind: "user" | "agent" | "system";
  actor_user_id: string | null;
  actor_via: string | null;
  api_key_id: string | null;
  project: string | null;
  execution_id: string | null;
  node_id: string | null;
  session_id: string | null;
  detail: ColumnType<Record<string, unknown>, string, never>;
  ip: string | null;
  user_agent: string | null;
}

export interface Database {
  projects: ProjectsTable;
  bundles: BundlesTable;
  workflow_versions: WorkflowVersionsTable;
  executions: ExecutionsTable;
  node_executions: NodeExecutionsTable;
  attempts: AttemptsTable;
  task_cache: TaskCacheTable;
  interactive_sessions: InteractiveSessionsTable;
  ide_tickets: IdeTicketsTable;
  users: UsersTable;
  project_members: ProjectMembersTable;
  web_sessions: WebSessionsTable;
  sign_in_codes: SignInCodesTable;
  api_keys: ApiKeysTable;
  session_shares: SessionSharesTable;
  session_opens: SessionOpensTable;
  relay_connections: RelayConnectionsTable;
  audit_log: AuditLogTable;
  server_replicas: ServerReplicasTable;
  pending_sign_ins: PendingSignInsTable;
}

export type UserRow = Selectable<UsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;

export type ExecutionRow = Selectable<ExecutionsTable>;
export type NodeRow = Selectable<NodeExecutionsTable>;
export type AttemptRow = Selectable<AttemptsTable>;
export type SessionRow = Selectable<InteractiveSessionsTable>;
export type NewAttempt = Insertable<AttemptsTable>;
