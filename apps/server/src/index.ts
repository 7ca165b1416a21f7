export { buildApp } from "./app.js";
export type { AppDeps } from "./app.js";
export { readServerConfig, ServerConfigSchema } from "./env.js";
export type { ServerConfig, ServerConfigInput } from "./env.js";
export { createLogger } from "./logger.js";
export type { Logger } from "./logger.js";
export { agentEntry, startServer } from "./server.js";
export { loadSecrets } from "./secrets.js";
export type { RunningServer } from "./server.js";
