/**
 * Names and values that more than one process must agree on, defined once. This module has no runtime
 * imports (the VS Code extension bundles it as `@drydock/contracts/constants`), so keep it that way.
 */
import type { AttemptStatus, ExecutionStatus, NodeStatus } from "./executions.js";

/** The manifest at the root of every bundle `drydock register` packs and the agent extracts. */
export const BUNDLE_MANIFEST_FILE = "drydock-bundle.json";

/** The launch configurations the agent writes into a session's `.vscode/launch.json` and the extension starts. */
export const LAUNCH_NAMES = {
  debug: "Interactive Debugging",
  resume: "Resume Task",
  /** A paused task's session only: attach to the paused process (the extension starts it on opening). */
  attach: "Attach to Paused Task",
  /** A paused task's session only: the resume choices `original` and `fail`. */
  resumeOriginal: "Resume Task: Original Code",
  resumeFail: "Resume Task: End as Failed",
} as const;

/** "paused at src/x.ts:12: boom", as the console's task pane, the CLI and the extension say where a task is paused. */
export function describePause(pause: {
  reason: "exception" | "before";
  file?: string | undefined;
  line?: number | undefined;
  message: string;
}): string {
  const where = pause.file ? `${pause.file}${pause.line ? `:${pause.line}` : ""}` : "the task";
  return pause.reason === "before"
    ? `paused before the task at ${where}`
    : `paused at ${where}: ${pause.message}`;
}

export const TERMINAL_EXECUTION_STATUSES: readonly ExecutionStatus[] = [
  "SUCCEEDED",
  "FAILED",
  "ABORTED",
];
export const TERMINAL_NODE_STATUSES: readonly NodeStatus[] = [
  "SUCCEEDED",
  "FAILED",
  "ABORTED",
  "SKIPPED",
];
export const TERMINAL_ATTEMPT_STATUSES: readonly AttemptStatus[] = [
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "LOST",
  "ABORTED",
];

/** `http://localhost:8081` + `s1` → `s1.localhost:8081`: a session's own host, port included. */
export function sessionHost(ideOrigin: string | URL, sessionId: string): string {
  return `${sessionId}.${(typeof ideOrigin === "string" ? new URL(ideOrigin) : ideOrigin).host}`;
}

/** `http://localhost:8081` + `s1` → `http://s1.localhost:8081`: the origin the relay serves a session's IDE on. */
export function sessionOrigin(ideOrigin: string | URL, sessionId: string): string {
  const origin = typeof ideOrigin === "string" ? new URL(ideOrigin) : ideOrigin;
  return `${origin.protocol}//${sessionHost(origin, sessionId)}`;
}

/** The project every instance starts with; single-user data from before projects had members lives here. */
export const DEFAULT_PROJECT = "default";

/** A project role; each includes the ones before it. */
export const ROLES = ["viewer", "editor", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` is `wanted` or above it. */
export function roleAtLeast(role: Role | undefined, wanted: Role): boolean {
  return role !== undefined && ROLES.indexOf(role) >= ROLES.indexOf(wanted);
}

/** The lower of two roles (an API key's ceiling over its user's role); undefined if either is. */
export function lowerRole(a: Role | undefined, b: Role | undefined): Role | undefined {
  if (a === undefined || b === undefined) return undefined;
  return ROLES.indexOf(a) <= ROLES.indexOf(b) ? a : b;
}

/** Longest life an API key may be given (a year); keys without an expiry live until revoked. */
export const MAX_API_KEY_DAYS = 366;

/** What the audit log records; `drydock audit` and the console filter by these. */
export const AUDIT_ACTIONS = [
  "auth.sign_in",
  "auth.sign_out",
  "auth.sign_in_code",
  "api_key.create",
  "api_key.revoke",
  "project.create",
  "project.member_set",
  "workflow.register",
  "execution.create",
  "execution.abort",
  "execution.debug",
  "execution.recover",
  "execution.fork",
  "ide_ticket.issue",
  "ide_ticket.redeem",
  "session.resume",
  "session.keep_alive",
  "session.changes",
  "session.share",
  "session.revoke_share",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
