export {
  DEFAULT_PROJECT,
  EntityName,
  ErrorInfoSchema,
  JsonSchemaSchema,
  JsonValueSchema,
  ProjectId,
  ProjectSchema,
  Sha256,
  Timestamp,
} from "./common.js";
export type { ErrorInfo, JsonSchema, JsonValue, Project } from "./common.js";
export {
  ImageSpecDataSchema,
  InteractiveConfigSchema,
  NodeSelectorSchema,
  ResourcesSchema,
  TaskCacheSchema,
  TaskCodeSchema,
  TaskSpecSchema,
} from "./tasks.js";
export type {
  ImageSpecData,
  InteractiveConfig,
  NodeSelector,
  TaskCache,
  TaskCode,
  TaskSpec,
  TaskSpecInput,
} from "./tasks.js";
export {
  BindingSchema,
  BundleManifestSchema,
  CreateUploadInput,
  CreateUploadOutput,
  ForkLineageSchema,
  GetWorkflowInput,
  GitOriginSchema,
  ListWorkflowsInput,
  MapNodeSchema,
  NodeIdSchema,
  NodeSpecSchema,
  RegisterWorkflowsInput,
  RegisterWorkflowsOutput,
  SourceOriginSchema,
  TaskNodeSchema,
  ValuePathSchema,
  WorkflowSpecSchema,
  WorkflowSummarySchema,
  WorkflowVersionSchema,
} from "./workflows.js";
export type {
  Binding,
  BundleManifest,
  ForkLineage,
  GitOrigin,
  NodeSpec,
  SourceOrigin,
  WorkflowSpec,
  WorkflowSpecInput,
  WorkflowSummary,
  WorkflowVersion,
} from "./workflows.js";
export {
  AttemptLogsInput,
  AttemptLogsOutput,
  AttemptSchema,
  AttemptStatus,
  CreateExecutionInput,
  DebugExecutionInput,
  ExecutionDetailSchema,
  ExecutionIdInput,
  ExecutionParentSchema,
  ExecutionSchema,
  ExecutionStatus,
  ExecutionSummarySchema,
  ListExecutionsInput,
  NodeExecutionSchema,
  NodeReuseSchema,
  NodeStatus,
  PREVIEW_CHARS,
  RecoverExecutionInput,
  WatchListInput,
} from "./executions.js";
export type {
  Attempt,
  Execution,
  ExecutionDetail,
  ExecutionParent,
  ExecutionSummary,
  NodeExecution,
  NodeReuse,
} from "./executions.js";
export {
  jsonDepth,
  jsonLimitProblem,
  MAX_INPUTS_BYTES,
  MAX_JSON_DEPTH,
  utf8Length,
} from "./json-limits.js";
export {
  DEFAULT_MAX_IDLE_SECONDS,
  defaultMaxUnopenedSeconds,
  describePause,
  ExtensionProblemSchema,
  InteractiveSessionSchema,
  NodeRefInput,
  PauseInfoSchema,
  RecordedResumeChoice,
  RESUME_FAIL_CODE,
  RESUME_ORIGINAL_CODE,
  ResumeChoice,
  ResumeRecordSchema,
  ResumeSessionInput,
  SESSION_IDLE_CODE,
  SESSION_UNOPENED_CODE,
  SessionChangesOutput,
  SessionEndReason,
  SessionLimit,
  SessionState,
} from "./sessions.js";
export type { ExtensionProblem, InteractiveSession, PauseInfo, ResumeRecord } from "./sessions.js";
export { ExecutionEventSchema, ExecutionListEventSchema, LogChunkSchema } from "./events.js";
export type { ExecutionEvent, ExecutionListEvent, LogChunk } from "./events.js";
export {
  AckSchema,
  AgentCompleteInput,
  AgentCompleteOutput,
  AgentFailInput,
  AgentHeartbeatInput,
  AgentHeartbeatOutput,
  AgentLogInput,
  AgentNextOutput,
  AgentStartedInput,
  AttemptAssignmentSchema,
  INLINE_JSON_BYTES,
  LogLineSchema,
} from "./agent.js";
export type { AttemptAssignment } from "./agent.js";
export {
  AgentEndSessionInput,
  AgentOpenSessionInput,
  AgentOpenSessionOutput,
  AgentUpdateSessionInput,
  AuthorizeTunnelInput,
  AuthorizeTunnelOutput,
  IdeTicketOutput,
  MAX_CHANGES_BYTES,
  RedeemTicketInput,
  RedeemTicketOutput,
  SessionIdInput,
  SessionIdSchema,
  TunnelEndpointSchema,
} from "./relay.js";
export type { RelayAuthority, TunnelEndpoint } from "./relay.js";
export {
  BUNDLE_MANIFEST_FILE,
  LAUNCH_NAMES,
  sessionHost,
  sessionOrigin,
  TERMINAL_ATTEMPT_STATUSES,
  TERMINAL_EXECUTION_STATUSES,
  TERMINAL_NODE_STATUSES,
} from "./constants.js";
export { AppError } from "./errors.js";
export type { AppErrorKind } from "./errors.js";
export {
  BindingError,
  bindingNodes,
  findWorkflowProblems,
  nodeUpstream,
  resolveBinding,
  resolveNodeInputs,
} from "./dag.js";
export type { BindingScope } from "./dag.js";
export * from "./identity.js";
