#!/usr/bin/env node
import { readServerConfig } from "./env.js";
import { createLogger } from "./logger.js";
import { startServer } from "./server.js";

const config = readServerConfig();
const log = createLogger(config.logLevel);
const server = await startServer(config, log);
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    void server.close().then(() => process.exit(0));
  });
}
