/**
 * How the agent process ends and the codes of the errors it reports with `agent.fail`: what executors, the
 * server and the end-to-end tests read, so neither changes lightly.
 */
import { SESSION_IDLE_CODE, SESSION_UNOPENED_CODE } from "@drydock/contracts";

/** How the agent process ends. */
export const EXIT_CODES = {
  succeeded: 0,
  /** The task (or its module) threw, or the task is not in the bundle; reported with `agent.fail`. */
  taskFailed: 1,
  /** The platform failed around the task (bundle, inputs, output upload, server unreachable). */
  platformFailed: 2,
  /** The server told the agent to stop (`proceed: false`), or lost track of the attempt. */
  stopped: 137,
  /** The process was asked to terminate (SIGTERM). */
  terminated: 143,
} as const;

/** Stable codes of the errors the agent reports with `agent.fail`. */
export const AGENT_ERROR_CODES = {
  setupFailed: "AGENT_SETUP_FAILED",
  taskNotFound: "TASK_NOT_FOUND",
  importFailed: "TASK_IMPORT_FAILED",
  outputUploadFailed: "AGENT_OUTPUT_UPLOAD_FAILED",
  /** The server refused `agent.complete` (outputs over a limit, …). */
  outputRefused: "AGENT_OUTPUT_REFUSED",
  /** The server refused the failure as reported; this one says so. */
  reportRefused: "AGENT_REPORT_REFUSED",
  hookFailed: "INTERACTIVE_HOOK_FAILED",
  sessionFailed: "INTERACTIVE_SESSION_FAILED",
  sessionIdle: SESSION_IDLE_CODE,
  sessionUnopened: SESSION_UNOPENED_CODE,
} as const;
