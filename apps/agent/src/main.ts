#!/usr/bin/env node
/**
 * The agent process: `node dist/main.js --attempt <attemptId>`, started by an executor as the entrypoint of
 * one task attempt, configured by the environment (see env.ts). Serves that attempt and any the server hands
 * over next (attempt/attempt-loop.ts), and exits with the last one's code.
 */
import { parseArgs } from "node:util";

import type { AgentConfig } from "./env.js";
import { earlyConfig } from "./env-early.js";
import { PrestartedRunner } from "./paused/runner-process.js";

// Stack traces of the task then point at its TypeScript source lines (tsx emits inline source maps).
process.setSourceMapsEnabled(true);

// An attempt that may pause (onFailure: "pause", a pause point) runs its task in a process of its own
// (paused/). The executor says so, and that process starts first, before the agent's own modules load, so
// the two start side by side rather than one after the other.
const early = earlyConfig();
const prestarted = early.attemptPauses
  ? new PrestartedRunner({
      env: early.childEnv,
      writeOutput: (stream, chunk) => process[stream].write(chunk),
    })
  : undefined;

const [{ serveAttempts }, { EXIT_CODES }, { loadConfig }, { createAgentLogger }] =
  await Promise.all([
    import("./attempt/attempt-loop.js"),
    import("./attempt/exit-codes.js"),
    import("./env.js"),
    import("./logger.js"),
  ]);

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
  prestarted?.dispose();
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
const code = await serveAttempts(config, {
  logger,
  signal: terminate.signal,
  ...(prestarted ? { prestarted } : {}),
});
logger.info({ code }, "agent exiting");
process.exit(code);
