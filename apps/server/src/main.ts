#!/usr/bin/env node
import { readServerConfig } from "./env.js";
import { createLogger } from "./logger.js";
import { DataDirError } from "./data-dir.js";
import { startServer } from "./server.js";

const config = readServerConfig();
const log = createLogger(config.logLevel);
const server = await startServer(config, log).catch((error: unknown) => {
  // A data directory it cannot use, or one another server holds: one line, not a stack.
  if (!(error instanceof DataDirError)) throw error;
  process.stderr.write(`drydock server: ${error.message}\n`);
  process.exit(1);
});
let stopping = false;
server.onFatal(() => {
  if (stopping) return;
  stopping = true;
  // Logged where it happened; exit non-zero so a supervisor (Docker, Swarm, systemd) starts a new replica.
  void server.close().then(() => process.exit(1));
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    void server.close().then(() => process.exit(0));
  });
}
