/**
 * Every second, fails the attempts that ran past their task's timeout (TIMED_OUT) and those whose agent
 * stopped sending heartbeats (LOST, so they are re-run), then ends their agents. One sweep at a time: a
 * slow one is not overlapped by the next tick, and among replicas, one sweeps while the others skip that tick.
 * Each tick first takes over the attempts of replicas that ended (restart-recovery.ts).
 */
import type { ErrorInfo } from "@drydock/contracts";

import type { Db } from "../../db/database.js";
import type { ServerConfig } from "../../env.js";
import type { Executor } from "../../executor/executor.js";
import type { Logger } from "../../logger.js";
import type { FailureStatus } from "./attempt-lifecycle.js";
import { JOBS } from "./replicas.js";

export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Agents being ended: not waited for by the sweep (a lost node's may take the engine a while), but by stop. */
  private readonly ending = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      db: Db;
      executor: Pick<Executor, "terminate">;
      log: Logger;
      config: Pick<ServerConfig, "heartbeatTimeoutSeconds" | "startTimeoutSeconds">;
      attemptFailed: (id: string, status: FailureStatus, error: ErrorInfo) => Promise<void>;
      takeOver: () => Promise<void>;
      exclusively: (job: number, pass: () => Promise<void>) => Promise<boolean>;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.tick()
        .catch((err: unknown) => this.deps.log.error({ err }, "sweep failed"))
        .finally(() => (this.sweeping = undefined));
    }, 1_000);
  }

  /** Stops the timer and waits for a sweep under way, and the agents it is ending. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
    await Promise.all(this.ending);
  }

  /** Ends an attempt's agent without holding up the sweep. */
  private end(id: string): void {
    const ending = this.deps.executor
      .terminate(id)
      .catch((err: unknown) =>
        this.deps.log.warn({ err, attemptId: id }, "could not end the agent"),
      )
      .finally(() => this.ending.delete(ending));
    this.ending.add(ending);
  }

  private async tick(): Promise<void> {
    await this.deps.takeOver();
    await this.deps.exclusively(JOBS.sweep, () => this.sweep());
  }

  private async sweep(): Promise<void> {
    const { db, config, attemptFailed } = this.deps;
    const now = new Date();
    const timedOut = await db
      .selectFrom("attempts")
      .select(["id", "started_at", "deadline_at"])
      .where("status", "=", "RUNNING")
      .where("deadline_at", "<", now)
      .execute();
    // Record why first, then end the agent: its exit report then finds the attempt over and changes nothing.
    for (const a of timedOut) {
      const seconds =
        a.started_at && a.deadline_at
          ? Math.round((a.deadline_at.getTime() - a.started_at.getTime()) / 1000)
          : 0;
      await attemptFailed(a.id, "TIMED_OUT", {
        code: "TIMED_OUT",
        message: `the task timed out after ${seconds}s`,
      });
      this.end(a.id);
    }
    // A running agent is judged by its heartbeats; one launched but not started yet (QUEUED: its image pulling,
    // its container starting) by the start timeout, counted from its launch.
    const before = (seconds: number) => new Date(now.getTime() - seconds * 1000);
    const stale = await db
      .selectFrom("attempts")
      .select(["id", "status"])
      .where("pid", "is not", null)
      .where((eb) =>
        eb.or([
          eb.and([
            eb("status", "=", "RUNNING"),
            eb("heartbeat_at", "<", before(config.heartbeatTimeoutSeconds)),
          ]),
          eb.and([
            eb("status", "=", "QUEUED"),
            eb("heartbeat_at", "<", before(config.startTimeoutSeconds)),
          ]),
        ]),
      )
      .execute();
    for (const a of stale) {
      await attemptFailed(a.id, "LOST", {
        code: "AGENT_LOST",
        message:
          a.status === "RUNNING"
            ? `no heartbeat from the agent for ${config.heartbeatTimeoutSeconds}s`
            : `the agent did not start within ${config.startTimeoutSeconds}s of its launch`,
      });
      this.end(a.id);
    }
  }
}
