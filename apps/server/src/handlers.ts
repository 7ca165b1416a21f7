import type { AppHandlers, ExecutorKind } from "@drydock/contracts/router";

import { storeRefusal } from "./errors.js";
import { AgentAccess } from "./services/agent-access.js";
import type { AttemptAgentService } from "./services/attempt-agent.js";
import type { ExecutionService } from "./services/executions.js";
import type { WorkflowService } from "./services/workflows.js";
import type { Db } from "./db/database.js";
import type { Scheduler } from "./services/scheduler.js";
import type { SessionService } from "./services/sessions.js";

/** Rethrows a value the store refused as the caller's error (400), anything else as it was. */
function rethrowRefusal(error: unknown): never {
  throw storeRefusal(error) ?? error;
}

/** Every handler of `tree`, with store refusals turned into the caller's errors (subscriptions included). */
function refusingBadValues<T extends object>(tree: T): T {
  const wrap = (value: unknown): unknown => {
    if (typeof value !== "function")
      return typeof value === "object" && value !== null ? refusingBadValues(value) : value;
    const fn = value as (...args: unknown[]) => unknown;
    return (...args: unknown[]) => {
      const result = fn(...args);
      if (result instanceof Promise) return result.catch(rethrowRefusal);
      if (typeof result === "object" && result !== null && Symbol.asyncIterator in result) {
        return (async function* () {
          try {
            yield* result as AsyncIterable<unknown>;
          } catch (error) {
            rethrowRefusal(error);
          }
        })();
      }
      return result;
    };
  };
  return Object.fromEntries(Object.entries(tree).map(([key, value]) => [key, wrap(value)])) as T;
}

/** The services the API's handlers call. */
export interface HandlerServices {
  db: Db;
  workflows: WorkflowService;
  executions: ExecutionService;
  agent: AttemptAgentService;
  scheduler: Scheduler;
  sessions: SessionService;
  executor: ExecutorKind;
}

const ok = { ok: true as const };

/** Binds the router contract to the services; nothing here knows about HTTP. */
export function createHandlers(s: HandlerServices): AppHandlers {
  return refusingBadValues<AppHandlers>({
    health: () => ({ ok: true, executor: s.executor }),
    projects: {
      list: async () => {
        const rows = await s.db.selectFrom("projects").selectAll().orderBy("id").execute();
        return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at.toISOString() }));
      },
    },
    workflows: {
      createUpload: (input) => s.workflows.createUpload(input),
      register: (input) => s.workflows.register(input),
      list: (input) => s.workflows.list(input.project),
      get: (input) => s.workflows.get(input.project, input.name, input.version),
    },
    executions: executionHandlers(s.executions),
    agent: agentHandlers(s),
    sessions: {
      ideTicket: (input, ctx) => s.sessions.ideTicket(input.sessionId, ctx.principal.userId),
      resume: (input) => s.sessions.resume(input.executionId, input.nodeId),
      keepAlive: (input) => s.sessions.keepAlive(input.executionId, input.nodeId),
      changes: (input) => s.sessions.changes(input.executionId, input.nodeId),
    },
    relay: {
      authorizeTunnel: (input) => s.sessions.authorizeTunnel(input.sessionId, input.agentToken),
      redeemTicket: (input) => s.sessions.redeemTicket(input.sessionId, input.ticket),
      sessionReady: async (input) => {
        await s.sessions.markReady(input.sessionId);
        return ok;
      },
    },
  });
}

function executionHandlers(executions: ExecutionService): AppHandlers["executions"] {
  return {
    create: (input) => executions.create(input),
    list: (input) => executions.list(input),
    get: (input) => executions.detail(input.id),
    node: (input) => executions.node(input.executionId, input.nodeId),
    abort: (input) => executions.abort(input.id),
    debug: (input) => executions.debug(input.executionId, input.nodeId),
    logs: (input) => executions.logs(input.attemptId, input.offset),
    watch: (input, _ctx, signal) => executions.watch(input.id, signal),
    watchList: (input, _ctx, signal) => executions.watchList(input.project, signal),
    tailLogs: (input, _ctx, signal) => executions.tailLogs(input.attemptId, input.offset, signal),
  };
}

/** An agent token acts for its attempt while it runs; after its end, only for what the end needs. */
function agentHandlers(s: HandlerServices): AppHandlers["agent"] {
  return new AgentAccess(s.db).guard({
    assignment: (_input, ctx) => s.agent.assignment(ctx.principal.attemptId),
    started: async (input, ctx) => {
      await s.scheduler.attemptStarted(ctx.principal.attemptId, input.pid);
      return ok;
    },
    heartbeat: async (input, ctx) => {
      const { attemptId } = ctx.principal;
      const proceed = await s.scheduler.heartbeat(attemptId);
      // An attempt that must stop has no session left to act on.
      const session = proceed
        ? await s.sessions.heartbeat(attemptId, input?.sessionActive === true, input?.tunnelDownMs)
        : undefined;
      return { proceed, ...(session ? { session } : {}) };
    },
    log: async (input, ctx) => {
      await s.agent.log(ctx.principal.attemptId, input.lines);
      return ok;
    },
    complete: async (input, ctx) => {
      await s.agent.complete(ctx.principal.attemptId, input.outputsSha256);
      return ok;
    },
    fail: async (input, ctx) => {
      await s.agent.fail(ctx.principal.attemptId, input.error);
      return ok;
    },
    next: async (_input, ctx) => {
      const next = await s.scheduler.handOver(ctx.principal.attemptId);
      return {
        next: next
          ? { token: next.token, assignment: await s.agent.assignment(next.attemptId) }
          : null,
      };
    },
    openSession: (input, ctx) => s.sessions.openSession(ctx.principal.attemptId, input ?? {}),
    updateSession: async (input, ctx) => {
      await s.sessions.updateSession(ctx.principal.attemptId, input);
      return ok;
    },
    endSession: async (input, ctx) => {
      await s.sessions.endSession(ctx.principal.attemptId, input.reason, input.error);
      return ok;
    },
  });
}
