/**
 * What a starting server finds of the previous one: attempts whose agent still runs are adopted (they keep
 * running, and report here), those whose agent died meanwhile are LOST (and retried), and those never
 * launched go back in the queue. Whatever else the executor started before is then ended.
 */
import type { ErrorInfo } from "@drydock/contracts";

import type { Db } from "../../db/database.js";
import type { Executor } from "../../executor/executor.js";
import type { Logger } from "../../logger.js";
import type { FailureStatus } from "./attempt-lifecycle.js";
import type { Dispatcher } from "./dispatcher.js";
import { ACTIVE_ATTEMPT } from "./open-statuses.js";

export async function recoverOpenAttempts(deps: {
  db: Db;
  executor: Executor;
  log: Logger;
  dispatcher: Pick<Dispatcher, "occupy" | "restore">;
  attemptFailed: (id: string, status: FailureStatus, error: ErrorInfo) => Promise<void>;
}): Promise<void> {
  const { db, executor, log, dispatcher } = deps;
  const open = await db
    .selectFrom("attempts")
    .selectAll()
    .where("status", "in", ACTIVE_ATTEMPT)
    .execute();
  for (const attempt of open) {
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
        message: "the agent stopped while the server was down",
      });
    } else {
      dispatcher.restore(attempt.id);
    }
  }
  await executor.forgetOthers?.();
}
