/**
 * A warm agent: after the attempt its token is scoped to, it asks `agent.next` and runs each further attempt
 * of the same execution the server hands over, one at a time in this process, reusing the bundle and the
 * module it already loaded.
 */
import type { AttemptAssignment } from "@drydock/contracts";

import { createAgentClient, withRetry } from "../client.js";
import type { AgentConfig } from "../env.js";
import type { HandOverSlot } from "./context.js";
import { EXIT_CODES } from "./exit-codes.js";
import { runOneAttempt } from "./run-one-attempt.js";
import type { AttemptDeps } from "./run-one-attempt.js";

/** Runs the attempts one after another and resolves to the exit code of the last one. */
export async function serveAttempts(
  config: AgentConfig,
  deps: Omit<AttemptDeps, "client" | "handedOver" | "handOver"> = {},
): Promise<number> {
  let current = config;
  let handedOver: AttemptAssignment | undefined;
  for (;;) {
    const client = createAgentClient(current);
    // A success's report asks for the next attempt in the same call; after a failure, `agent.next` does.
    const handOver: HandOverSlot = {};
    const code = await runOneAttempt(current, {
      ...deps,
      client,
      handOver,
      ...(handedOver ? { handedOver } : {}),
    });
    // A platform failure or a stop ends the agent; a task's own failure does not spoil the next attempt.
    if ((code !== EXIT_CODES.succeeded && code !== EXIT_CODES.taskFailed) || deps.signal?.aborted)
      return code;
    const next =
      handOver.next !== undefined
        ? handOver.next
        : (
            await withRetry(() => client.agent.next.mutate(), {
              reconnectSeconds: current.reconnectSeconds,
            }).catch(() => ({ next: null }))
          ).next;
    if (!next) return code;
    current = { ...current, token: next.token };
    handedOver = next.assignment;
  }
}
