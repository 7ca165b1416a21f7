import { pino } from "pino";
import type { Level, Logger } from "pino";

/**
 * The agent's own JSON logs. They go straight to file descriptor 2 (not through process.stderr.write), so
 * the log forwarder, which captures the task's output, never mistakes them for the task's.
 */
export function createAgentLogger(
  level: Level | "silent",
  bindings: Record<string, unknown> = {},
): Logger {
  return pino(
    {
      name: "drydock-agent",
      level,
      base: { pid: process.pid, ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
