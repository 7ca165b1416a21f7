import { AppError } from "@drydock/contracts";

/** The control plane's error catalogue: one stable code per failure, mapped to a transport code once. */
export const ServerErrors = {
  projectNotFound: (id: string) =>
    new AppError("PROJECT_NOT_FOUND", "NOT_FOUND", `project "${id}" does not exist`),
  workflowNotFound: (project: string, name: string, version?: string) =>
    new AppError(
      "WORKFLOW_NOT_FOUND",
      "NOT_FOUND",
      version
        ? `workflow "${name}" has no version "${version}" in project "${project}"`
        : `workflow "${name}" is not registered in project "${project}"`,
    ),
  executionNotFound: (id: string) =>
    new AppError("EXECUTION_NOT_FOUND", "NOT_FOUND", `execution "${id}" does not exist`),
  attemptNotFound: (id: string) =>
    new AppError("ATTEMPT_NOT_FOUND", "NOT_FOUND", `attempt "${id}" does not exist`),
  nodeNotFound: (executionId: string, nodeId: string) =>
    new AppError(
      "NODE_NOT_FOUND",
      "NOT_FOUND",
      `node "${nodeId}" of execution "${executionId}" does not exist`,
    ),
  nodeNotDebuggable: (executionId: string, nodeId: string, why: string) =>
    new AppError(
      "NODE_NOT_DEBUGGABLE",
      "CONFLICT",
      `node "${nodeId}" of execution "${executionId}" cannot be debugged: ${why}`,
    ),
  executionNotRecoverable: (id: string, why: string) =>
    new AppError(
      "EXECUTION_NOT_RECOVERABLE",
      "CONFLICT",
      `execution "${id}" cannot be recovered: ${why}`,
    ),
  forceNodesUnknown: (id: string, unknown: string[], valid: string[]) =>
    new AppError(
      "FORCE_NODE_NOT_FOUND",
      "BAD_REQUEST",
      `execution "${id}" has no node ${unknown.map((n) => `"${n}"`).join(", ")} to force; its workflow's nodes are ${valid.join(", ")}`,
    ),
  pausePointsUnknown: (workflow: string, unknown: string[], valid: string[]) =>
    new AppError(
      "PAUSE_NODE_NOT_FOUND",
      "BAD_REQUEST",
      `workflow "${workflow}" has no node ${unknown.map((n) => `"${n}"`).join(", ")} to pause before; its nodes are ${valid.join(", ")}`,
    ),
  executionNotForkable: (id: string, why: string) =>
    new AppError(
      "EXECUTION_NOT_FORKABLE",
      "CONFLICT",
      `execution "${id}" cannot be forked: ${why}`,
    ),
  noEditsToFork: (executionId: string, nodeId: string) =>
    new AppError(
      "NO_EDITS_TO_FORK",
      "CONFLICT",
      `node "${nodeId}" of execution "${executionId}" has no IDE edits to fork: its session saved none`,
    ),
  forkFailed: (executionId: string, nodeId: string, why: string) =>
    new AppError(
      "FORK_FAILED",
      "CONFLICT",
      `the edits of node "${nodeId}" of execution "${executionId}" cannot be forked: ${why}`,
    ),
  invalidWorkflow: (name: string, problems: string[]) =>
    new AppError(
      "INVALID_WORKFLOW",
      "BAD_REQUEST",
      `workflow "${name}" is invalid: ${problems.join("; ")}`,
    ),
  invalidInputs: (workflow: string, problems: string[]) =>
    new AppError(
      "INVALID_INPUTS",
      "BAD_REQUEST",
      `invalid inputs for workflow "${workflow}": ${problems.join("; ")}`,
    ),
  bundleMissing: (sha256: string) =>
    new AppError(
      "BUNDLE_NOT_UPLOADED",
      "PRECONDITION_FAILED",
      `bundle ${sha256} has not been uploaded (call workflows.createUpload and PUT it first)`,
    ),
  executionFinished: (id: string, status: string) =>
    new AppError("EXECUTION_FINISHED", "CONFLICT", `execution "${id}" already ended ${status}`),
  attemptEnded: (id: string, status: string) =>
    new AppError("ATTEMPT_ENDED", "CONFLICT", `attempt "${id}" already ended ${status}`),
  outputsMissing: (id: string) =>
    new AppError(
      "OUTPUTS_NOT_UPLOADED",
      "PRECONDITION_FAILED",
      `attempt "${id}" completed without uploading its outputs`,
    ),
  outputsMismatch: (id: string) =>
    new AppError(
      "OUTPUTS_MISMATCH",
      "BAD_REQUEST",
      `the outputs uploaded for attempt "${id}" do not match the given sha256`,
    ),
  outputsOverLimit: (id: string, problem: string) =>
    new AppError(
      "OUTPUTS_OVER_LIMIT",
      "BAD_REQUEST",
      `the outputs of attempt "${id}" are refused: ${problem}`,
    ),
  agentTokenEnded: (id: string, status: string, procedure: string) =>
    new AppError(
      "AGENT_TOKEN_ENDED",
      "FORBIDDEN",
      `attempt "${id}" ended ${status}: its agent token may no longer call agent.${procedure}`,
    ),
  /** PostgreSQL refused a value (class 22, data exception; class 54, a limit): the caller's data, not a fault of ours. */
  valueRefused: (detail: string) =>
    new AppError(
      "VALUE_REFUSED",
      "BAD_REQUEST",
      `the store cannot keep a value of this request: ${detail}`,
    ),

  // Interactive sessions and the relay's access model.
  relayNotConfigured: (missing: string[]) =>
    new AppError(
      "RELAY_NOT_CONFIGURED",
      "PRECONDITION_FAILED",
      `interactive sessions need the relay, but this server has no ${missing.join(" and no ")} configured`,
    ),
  attemptNotRunning: (id: string, status: string) =>
    new AppError(
      "ATTEMPT_NOT_RUNNING",
      "CONFLICT",
      `attempt "${id}" is ${status}, not RUNNING; only a running attempt can open an interactive session`,
    ),
  sessionNotFound: (id: string) =>
    new AppError("SESSION_NOT_FOUND", "NOT_FOUND", `interactive session "${id}" does not exist`),
  sessionEnded: (id: string) =>
    new AppError("SESSION_ENDED", "CONFLICT", `interactive session "${id}" has ended`),
  attemptHasNoSession: (attemptId: string) =>
    new AppError(
      "SESSION_NOT_OPENED",
      "PRECONDITION_FAILED",
      `attempt "${attemptId}" has no interactive session; open one with agent.openSession first`,
    ),
  noLiveSession: (executionId: string, nodeId: string, why: string) =>
    new AppError(
      "NO_LIVE_SESSION",
      "CONFLICT",
      `node "${nodeId}" of execution "${executionId}" has no live interactive session (${why})`,
    ),
  sessionNotPaused: (executionId: string, nodeId: string, choice: string) =>
    new AppError(
      "SESSION_NOT_PAUSED",
      "BAD_REQUEST",
      `node "${nodeId}" of execution "${executionId}" cannot resume with "${choice}": its session's task is not paused (no throw to end with, no process held before it ran), so only "edited" can resume it`,
    ),
  resumeChoiceTaken: (executionId: string, nodeId: string, taken: string, asked: string) =>
    new AppError(
      "RESUME_CHOICE_TAKEN",
      "CONFLICT",
      `node "${nodeId}" of execution "${executionId}" is already resuming with "${taken}"; it cannot also resume with "${asked}"`,
    ),
  noSession: (executionId: string, nodeId: string, why: string) =>
    new AppError(
      "NO_SESSION",
      "NOT_FOUND",
      `node "${nodeId}" of execution "${executionId}" never had an interactive session (${why})`,
    ),
  ticketUnknown: () =>
    new AppError(
      "RELAY_TICKET_UNKNOWN",
      "UNAUTHORIZED",
      "this IDE ticket is not one the control plane issued",
    ),
  ticketWrongSession: (id: string) =>
    new AppError(
      "RELAY_TICKET_WRONG_SESSION",
      "FORBIDDEN",
      `this IDE ticket was issued for another session, not "${id}"`,
    ),
  ticketUsed: () =>
    new AppError(
      "RELAY_TICKET_USED",
      "FORBIDDEN",
      "this IDE ticket has already been used; ask for a new link",
    ),
  ticketExpired: () =>
    new AppError(
      "RELAY_TICKET_EXPIRED",
      "UNAUTHORIZED",
      "this IDE ticket has expired; ask for a new link",
    ),
  ticketSessionEnded: (id: string) =>
    new AppError(
      "RELAY_TICKET_SESSION_ENDED",
      "FORBIDDEN",
      `interactive session "${id}" has ended; its IDE tickets no longer open it`,
    ),
  tunnelTokenUnknown: () =>
    new AppError("TUNNEL_TOKEN_UNKNOWN", "UNAUTHORIZED", "this agent token belongs to no attempt"),
  tunnelWrongAttempt: (id: string) =>
    new AppError(
      "TUNNEL_WRONG_ATTEMPT",
      "FORBIDDEN",
      `this agent token belongs to another attempt, not the one of session "${id}"`,
    ),
  tunnelAttemptNotRunning: (id: string, status: string) =>
    new AppError(
      "TUNNEL_ATTEMPT_NOT_RUNNING",
      "FORBIDDEN",
      `attempt "${id}" is ${status}, not RUNNING; it may no longer carry a tunnel`,
    ),
  tunnelSessionEnded: (id: string) =>
    new AppError(
      "TUNNEL_SESSION_ENDED",
      "FORBIDDEN",
      `interactive session "${id}" has ended; its tunnel may not reconnect`,
    ),

  // People, roles, keys and shares.
  roleRefused: (message: string) => new AppError("ROLE_REFUSED", "FORBIDDEN", message),
  keyLimitedToProject: (keyProject: string, project: string) =>
    new AppError(
      "API_KEY_OTHER_PROJECT",
      "FORBIDDEN",
      `this API key is limited to project ${keyProject}; it cannot act in project ${project}`,
    ),
  keyCannotWiden: (what: string) =>
    new AppError("API_KEY_CANNOT_WIDEN", "FORBIDDEN", `an API key cannot ${what}`),
  userNotFound: (ref: string) =>
    new AppError(
      "USER_NOT_FOUND",
      "NOT_FOUND",
      `nobody with the id or email "${ref}" is known here`,
    ),
  projectExists: (id: string) =>
    new AppError("PROJECT_EXISTS", "CONFLICT", `project "${id}" already exists`),
  lastAdmin: (project: string) =>
    new AppError(
      "LAST_ADMIN",
      "CONFLICT",
      `project ${project} would have no admin left: make someone else admin first`,
    ),
  apiKeyNotFound: (id: string) =>
    new AppError("API_KEY_NOT_FOUND", "NOT_FOUND", `API key "${id}" does not exist`),
  shareExpiry: (why: string) =>
    new AppError("SHARE_EXPIRY_REFUSED", "BAD_REQUEST", `the share's expiry is refused: ${why}`),
  shareNotFound: (sessionId: string, user: string) =>
    new AppError(
      "SHARE_NOT_FOUND",
      "NOT_FOUND",
      `interactive session "${sessionId}" is not shared with "${user}"`,
    ),
} as const;

/**
 * The AppError for a value PostgreSQL refused (SQLSTATE class 22, a data exception such as U+0000 in text;
 * class 54, a limit such as nesting too deep), or undefined for any other failure, which stays a fault of ours.
 */
export function storeRefusal(error: unknown): AppError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^(22|54)[0-9A-Z]{3}$/.test(code) || !(error instanceof Error))
    return undefined;
  return ServerErrors.valueRefused(`${error.message} (SQLSTATE ${code})`);
}
