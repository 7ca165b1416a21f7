/**
 * Names and values that more than one process must agree on, defined once. This module has no runtime
 * imports (the VS Code extension bundles it as `@drydock/contracts/constants`), so keep it that way.
 */
import type { AttemptStatus, ExecutionStatus, NodeStatus } from "./executions.js";

/** The manifest at the root of every bundle `drydock register` packs and the agent extracts. */
export const BUNDLE_MANIFEST_FILE = "drydock-bundle.json";

/** The launch configurations the agent writes into a session's `.vscode/launch.json` and the extension starts. */
export const LAUNCH_NAMES = { debug: "Interactive Debugging", resume: "Resume Task" } as const;

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
