/** What every step of a running attempt shares: its assignment, its line to the server, its logs and its stop. */
import type { AttemptAssignment } from "@drydock/contracts";
import type { Logger } from "pino";

import type { AgentClient, ServerCall } from "../client.js";
import type { AgentConfig } from "../env.js";
import type { SessionBeat } from "../ide/session-beat.js";
import type { LogForwarder } from "../log-forwarder.js";
import type { PrestartedRunner } from "../paused/runner-process.js";

export interface AttemptContext {
  config: AgentConfig;
  client: AgentClient;
  assignment: AttemptAssignment;
  call: ServerCall;
  log: Logger;
  /** The task's log on the server; absent when the caller turned forwarding off. */
  forwarder: LogForwarder | undefined;
  /** Aborted when the attempt stops (the server's answer, or SIGTERM). */
  signal: AbortSignal;
  /** The heartbeat's link to an interactive session. */
  beat: SessionBeat;
  /** What must finish before the agent exits when the attempt is stopped (an interactive session's teardown). */
  teardowns: Set<Promise<unknown>>;
  /** A paused-task runner started with the agent, for an attempt that may pause (main.ts). */
  prestarted?: PrestartedRunner;
  /** A warm agent's: `agent.complete` asks for the next attempt, and its answer is kept here (see HandOverSlot). */
  handOver?: HandOverSlot;
}

/**
 * Where a warm agent's next attempt lands when `agent.complete` answers with it: `next` stays undefined until
 * then (a failure, or an output the server refused), null when there is none.
 */
export interface HandOverSlot {
  next?: { token: string; assignment: AttemptAssignment } | null;
}

/** Writes one of the agent's own lines into the task's log (a `system` line), when the log is forwarded. */
export function taskLogWriter(ctx: AttemptContext): (line: string) => void {
  return (line) => ctx.forwarder?.system(line);
}
