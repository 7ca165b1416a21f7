import type { Db } from "../db/database.js";
import type { AttemptExit, AttemptLaunch, Executor } from "../executor/executor.js";

/**
 * Plays the agents: each launched attempt runs `behaviour`, which reports back through the scheduler;
 * like a real executor it then reports the agent's exit, and `terminate` ends an agent with SIGTERM.
 */
export class ScriptedExecutor implements Executor {
  readonly kind = "local";
  readonly isolation = "none";
  /** False plays an executor whose agents never run a second attempt (Docker). */
  warmAgents = true;
  launched: string[] = [];
  launches: AttemptLaunch[] = [];
  terminated: string[] = [];
  private exited = new Set<string>();
  private listeners: ((id: string, exit: AttemptExit) => void)[] = [];
  behaviour: (attempt: AttemptLaunch) => Promise<void> = async () => undefined;
  async launch(attempt: AttemptLaunch) {
    this.launched.push(attempt.attemptId);
    this.launches.push(attempt);
    setImmediate(
      () =>
        void this.behaviour(attempt)
          .then(() => this.exit(attempt.attemptId, { code: 0, signal: null, tail: "" }))
          // A late report for an attempt that ended meanwhile is refused; a real agent then just exits.
          .catch((err: unknown) => {
            if ((err as { code?: string }).code !== "ATTEMPT_ENDED")
              console.error("agent script failed", err);
          }),
    );
    return { pid: 1 };
  }
  async adopt() {
    return false;
  }
  handOver() {
    return true;
  }
  async terminate(id: string) {
    this.terminated.push(id);
    this.exit(id, { code: null, signal: "SIGTERM", tail: "" });
  }
  onExit(listener: (id: string, exit: AttemptExit) => void) {
    this.listeners.push(listener);
  }
  exit(id: string, exit: AttemptExit) {
    if (this.exited.has(id)) return;
    this.exited.add(id);
    for (const l of this.listeners) l(id, exit);
  }
  async shutdown() {}
}

/** The attempt a scripted agent was launched for, and its node (task, inputs): what a real agent's assignment tells it. */
export async function attemptAndNode(db: Db, attemptId: string) {
  const attempt = await db
    .selectFrom("attempts")
    .selectAll()
    .where("id", "=", attemptId)
    .executeTakeFirstOrThrow();
  const node = await db
    .selectFrom("node_executions")
    .selectAll()
    .where("execution_id", "=", attempt.execution_id)
    .where("node_id", "=", attempt.node_id)
    .executeTakeFirstOrThrow();
  return { attempt, node };
}
