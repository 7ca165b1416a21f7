import type { AttemptStatus } from "@drydock/contracts";
import { TERMINAL_ATTEMPT_STATUSES } from "@drydock/contracts";
import type { AgentContext, AppHandlers } from "@drydock/contracts/router";

import type { Db } from "../db/database.js";
import { ServerErrors } from "../errors.js";

export type AgentProcedure = keyof AppHandlers["agent"];

/** The attempt an agent token names, as far as admission needs it. */
export interface AttemptEnd {
  status: string;
  endedAt: Date | null;
  outputsSha256: string | null;
}

/** Ends the platform decides (abort, timeout, lost agent): the agent hears of them late, mid-flush. */
const PLATFORM_ENDS: readonly string[] = ["ABORTED", "TIMED_OUT", "LOST"];

/**
 * How long after an end the platform decided the agent may still deliver its last log lines and IDE edits
 * and close its session: it learns of the end at its next heartbeat or by SIGTERM, and is killed 5 s later.
 */
export const TEARDOWN_GRACE_MS = 15_000;

/**
 * Whether an agent whose attempt has ended may still make this call: only the calls the end itself needs.
 * The heartbeat is how an agent learns of the end (it answers `proceed: false`); a warm agent asks for its
 * next attempt once it reported its own end; a report retried because its answer was lost is accepted when it
 * is the one recorded (the same outputs, or a failure on a failed attempt), which changes nothing. Anything
 * else — log lines, saved edits, a session — after an end the agent reported itself is refused: its token
 * outlives its attempt only in whoever copied it.
 */
export function mayCallAfterEnd(
  procedure: AgentProcedure,
  end: AttemptEnd,
  input: unknown,
  now: Date,
): boolean {
  switch (procedure) {
    case "heartbeat":
      return true;
    case "next":
      return end.status === "SUCCEEDED" || end.status === "FAILED";
    case "complete":
      return (
        end.status === "SUCCEEDED" &&
        end.outputsSha256 !== null &&
        (input as { outputsSha256?: unknown } | undefined)?.outputsSha256 === end.outputsSha256
      );
    case "fail":
      return end.status === "FAILED";
    case "log":
    case "updateSession":
    case "endSession":
      return (
        PLATFORM_ENDS.includes(end.status) &&
        end.endedAt !== null &&
        now.getTime() - end.endedAt.getTime() <= TEARDOWN_GRACE_MS
      );
    default:
      return false;
  }
}

/** Admits each agent call against the state of the attempt its token names: the one place agent tokens expire. */
export class AgentAccess {
  constructor(private readonly db: Db) {}

  async admit(attemptId: string, procedure: AgentProcedure, input: unknown): Promise<void> {
    // A heartbeat is always answered (it says whether to go on), without a query: it comes every few seconds.
    // A report of success is admitted by the transaction that records it (Successes), under the attempt's
    // row lock and by the same rule: a read fewer for each fan-out element.
    if (procedure === "heartbeat" || procedure === "complete") return;
    const row = await this.db
      .selectFrom("attempts")
      .select(["status", "ended_at", "outputs_sha256"])
      .where("id", "=", attemptId)
      .executeTakeFirst();
    if (!row) throw ServerErrors.attemptNotFound(attemptId);
    if (!TERMINAL_ATTEMPT_STATUSES.includes(row.status as AttemptStatus)) return;
    const end = { status: row.status, endedAt: row.ended_at, outputsSha256: row.outputs_sha256 };
    if (!mayCallAfterEnd(procedure, end, input, new Date()))
      throw ServerErrors.agentTokenEnded(attemptId, row.status, procedure);
  }

  /** The agent procedures, each admitted first. */
  guard(handlers: AppHandlers["agent"]): AppHandlers["agent"] {
    const guarded = Object.entries(handlers).map(([name, handler]) => {
      const call = handler as (input: unknown, ctx: AgentContext) => Promise<unknown>;
      return [
        name,
        async (input: unknown, ctx: AgentContext) => {
          await this.admit(ctx.principal.attemptId, name as AgentProcedure, input);
          return call(input, ctx);
        },
      ];
    });
    return Object.fromEntries(guarded) as AppHandlers["agent"];
  }
}
