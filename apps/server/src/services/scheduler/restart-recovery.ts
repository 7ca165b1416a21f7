/**
 * What a replica finds of replicas that ended (a previous life of this server, or another replica that died):
 * their open attempts become this replica's, in one statement, so no two replicas take the same attempt.
 * Those whose agent still runs are adopted (they keep running, and report here), those whose agent died
 * meanwhile are LOST (and retried), and those never launched go back in the queue. Whatever else the
 * executor started for those replicas is then ended.
 */
import type { ErrorInfo } from "@drydock/contracts";

import type { Db } from "../../db/database.js";
import type { AttemptRow } from "../../db/schema.js";
import type { Executor } from "../../executor/executor.js";
import type { Logger } from "../../logger.js";
import type { FailureStatus } from "./attempt-lifecycle.js";
import type { Dispatcher } from "./dispatcher.js";
import { ACTIVE_ATTEMPT } from "./open-statuses.js";

export interface TakeOverDeps {
  db: Db;
  executor: Executor;
  log: Logger;
  dispatcher: Pick<Dispatcher, "occupy" | "restore">;
  attemptFailed: (id: string, status: FailureStatus, error: ErrorInfo) => Promise<void>;
}

/**
 * Takes over the open attempts of the replicas `ended` (and, with `unowned`, those no replica owns: from before
 * replicas, on a server's first start after the upgrade) for replica `self`.
 */
export async function takeOverAttempts(
  deps: TakeOverDeps,
  self: string,
  ended: readonly string[],
  unowned: boolean,
): Promise<void> {
  const { db, executor, log } = deps;
  if (ended.length === 0 && !unowned) return;
  const open = await db
    .updateTable("attempts")
    .set({ replica: self })
    .where("status", "in", ACTIVE_ATTEMPT)
    .where((eb) => {
      const owners = [];
      if (ended.length > 0) owners.push(eb("replica", "in", ended));
      if (unowned) owners.push(eb("replica", "is", null));
      return eb.or(owners);
    })
    .returningAll()
    .execute();
  if (open.length > 0)
    log.info(
      { attempts: open.length, from: ended },
      "taking over the open attempts of ended replicas",
    );
  for (const attempt of open) await takeOver(deps, attempt);
  await executor.forgetOthers?.(new Set(ended));
}

async function takeOver(deps: TakeOverDeps, attempt: AttemptRow): Promise<void> {
  const { db, executor, log, dispatcher } = deps;
  if (
    attempt.pid !== null &&
    (await executor.adopt(attempt.id, attempt.pid, attempt.agent ?? attempt.id))
  ) {
    dispatcher.occupy(attempt.id);
    await db
      .updateTable("attempts")
      .set({ heartbeat_at: new Date() })
      .where("id", "=", attempt.id)
      .execute();
    log.info({ attemptId: attempt.id, pid: attempt.pid }, "adopted a running agent");
  } else if (attempt.pid !== null) {
    await deps.attemptFailed(attempt.id, "LOST", {
      code: "AGENT_LOST",
      message: "the agent stopped while no server watched it",
    });
  } else {
    dispatcher.restore(attempt.id);
  }
}
