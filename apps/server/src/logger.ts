import { pino } from "pino";
import type { Logger } from "pino";

export type { Logger };

/** One pino logger per process, writing JSON to stderr (stdout is for what commands print); components take children. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "drydock-server" } }, pino.destination(2));
}
