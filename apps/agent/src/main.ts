#!/usr/bin/env node
/**
 * The agent process: `node dist/main.js --attempt <attemptId>`, started by an executor as the entrypoint of
 * one task attempt, configured by the environment (see env.ts). Serves that attempt and any the server hands
 * over next (attempt/attempt-loop.ts), and exits with the last one's code.
 */
import { parseArgs } from "node:util";

import { serveAttempts } from "./attempt/attempt-loop.js";
import { EXIT_CODES } from "./attempt/exit-codes.js";
import { loadConfig } from "./env.js";
import type { AgentConfig } from "./env.js";
import { createAgentLogger } from "./logger.js";

// Stack traces of the task then point at its TypeScript source lines (tsx emits inline source maps).
process.setSourceMapsEnabled(true);

let attempt: string | undefined;
let config: AgentConfig;
try {
  // --attempt only names the process in the process table and in the logs; the token decides the attempt.
  attempt = parseArgs({ options: { attempt: { type: "string" } }, strict: true }).values.attempt;
  config = loadConfig();
} catch (error) {
  process.stderr.write(
    `drydock-agent: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(EXIT_CODES.platformFailed);
}

const logger = createAgentLogger(config.logLevel, { attempt });
const terminate = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.warn({ signal }, "terminating");
    terminate.abort();
    // The attempt stops at once (an interactive session's code-server within 4 s); this bounds the final log flush.
    setTimeout(() => process.exit(EXIT_CODES.terminated), 4_800).unref();
  });
}

logger.info({ endpoint: config.endpoint, cacheDir: config.cacheDir }, "agent starting");
const code = await serveAttempts(config, { logger, signal: terminate.signal });
logger.info({ code }, "agent exiting");
process.exit(code);
