import { fileURLToPath } from "node:url";

export { AGENT_ERROR_CODES, EXIT_CODES } from "./attempt/exit-codes.js";
export { runOneAttempt } from "./attempt/run-one-attempt.js";
export type { AttemptDeps } from "./attempt/run-one-attempt.js";
export { serveAttempts } from "./attempt/attempt-loop.js";
export { defaultExtensionsOf, loadConfig } from "./env.js";
export type { AgentConfig } from "./env.js";
export { BUNDLE_MANIFEST_FILE } from "@drydock/contracts";
export { ensureBundle, extractBundle } from "./bundle-cache.js";
export type { BundleRef, CachedBundle, EnsureBundleOptions } from "./bundle-cache.js";
export { createAgentClient, isServerUnreachable, withRetry } from "./client.js";
export type { AgentClient, RetryOptions } from "./client.js";
export { findCodeServer } from "./ide/code-server.js";
export { installExtensions } from "./ide/extensions.js";
export type { InstallExtensionsOptions, InstalledExtensions } from "./ide/extensions.js";
export { CodeServerInstallError, ensureCodeServer } from "./ide/provision.js";
export type { EnsureCodeServerOptions } from "./ide/provision.js";
export { defaultIdeDir, IDE_RUNTIME, PROVISION_COMMAND } from "./ide/runtime.js";
export { USER_SETTINGS } from "./ide/workspace.js";
export { LogForwarder } from "./log-forwarder.js";
export type { LogForwarderOptions, LogLine } from "./log-forwarder.js";

/**
 * Path of the built agent entrypoint, for executors: `spawn(process.execPath, [agentMainPath(), "--attempt", id])`.
 * Valid once the package is built (dist/index.js and dist/main.js sit side by side).
 */
export function agentMainPath(): string {
  return fileURLToPath(new URL("./main.js", import.meta.url));
}
