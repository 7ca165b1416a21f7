import type { AppHandlers } from "@drydock/contracts/router";

import { storeRefusal } from "./errors.js";
import type { HandlerServices } from "./handlers/handler-services.js";
import {
  apiKeyHandlers,
  auditHandlers,
  authHandlers,
  projectHandlers,
  userHandlers,
} from "./handlers/identity.js";
import { attemptRefs } from "./handlers/refs.js";
import { relayHandlers, sessionHandlers } from "./handlers/sessions.js";
import { AgentAccess } from "./services/agent-access.js";

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

export type { HandlerServices };

const ok = { ok: true as const };

/** Binds the router contract to the services; nothing here knows about HTTP. */
export function createHandlers(s: HandlerServices): AppHandlers {
  return refusingBadValues<AppHandlers>({
    health: () => ({
      ok: true,
      executor: s.executor,
      isolation: s.isolation,
      ...(s.registry ? { registry: s.registry } : {}),
    }),
    auth: authHandlers(s),
    users: userHandlers(s.identity),
    apiKeys: apiKeyHandlers(s.identity),
    projects: projectHandlers(s.identity),
    audit: auditHandlers(s.identity),
    workflows: workflowHandlers(s),
    executions: executionHandlers(s),
    agent: agentHandlers(s),
    sessions: sessionHandlers(s),
    relay: relayHandlers(s),
  });
}

function workflowHandlers(s: HandlerServices): AppHandlers["workflows"] {
  return {
    createUpload: (input) => s.workflows.createUpload(input),
    register: async (input, ctx) => {
      const registered = await s.workflows.register(input);
      await s.identity.audit.record(
        ctx,
        "workflow.register",
        { project: input.project },
        { bundle: input.bundle, workflows: registered.workflows },
      );
      return registered;
    },
    list: (input) => s.workflows.list(input.project),
    get: (input) => s.workflows.get(input.project, input.name, input.version),
  };
}

function executionHandlers(s: HandlerServices): AppHandlers["executions"] {
  const { executions } = s;
  const { audit } = s.identity;
  return {
    create: async (input, ctx) => {
      const execution = await executions.create(input, ctx.principal.userId);
      await audit.record(
        ctx,
        "execution.create",
        { project: execution.project, executionId: execution.id },
        {
          workflow: execution.workflow,
          version: execution.version,
          ...(execution.pauseBefore.length > 0 ? { pauseBefore: execution.pauseBefore } : {}),
        },
      );
      return execution;
    },
    list: (input) => executions.list(input),
    get: (input) => executions.detail(input.id),
    node: (input) => executions.node(input.executionId, input.nodeId),
    abort: async (input, ctx) => {
      const execution = await executions.abort(input.id);
      await audit.record(ctx, "execution.abort", {
        project: execution.project,
        executionId: execution.id,
      });
      return execution;
    },
    debug: async (input, ctx) => {
      const execution = await executions.debug(
        input.executionId,
        input.nodeId,
        ctx.principal.userId,
        { pauseBefore: input.pauseBefore },
      );
      await audit.record(
        ctx,
        "execution.debug",
        { project: execution.project, executionId: execution.id, nodeId: input.nodeId },
        {
          of: { executionId: input.executionId, nodeId: input.nodeId },
          ...(input.pauseBefore ? { pauseBefore: true } : {}),
        },
      );
      return execution;
    },
    recover: async (input, ctx) => {
      const execution = await executions.recover(input.id, input.force, ctx.principal.userId);
      await audit.record(
        ctx,
        "execution.recover",
        { project: execution.project, executionId: execution.id },
        { parent: input.id, force: input.force, version: execution.version },
      );
      return execution;
    },
    fork: async (input, ctx) => {
      const execution = await executions.fork(
        input.executionId,
        input.nodeId,
        ctx.principal.userId,
      );
      await audit.record(
        ctx,
        "execution.fork",
        { project: execution.project, executionId: execution.id, nodeId: input.nodeId },
        {
          of: { executionId: input.executionId, nodeId: input.nodeId },
          parent: execution.parent?.executionId,
          version: execution.version,
        },
      );
      return execution;
    },
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
        ? await s.sessions.heartbeat(
            attemptId,
            input?.sessionActive === true,
            input?.tunnelDownMs,
            input?.sessionOpened === true,
          )
        : undefined;
      return { proceed, ...(session ? { session } : {}) };
    },
    log: async (input, ctx) => {
      await s.agent.log(ctx.principal.attemptId, input.lines);
      return ok;
    },
    complete: async (input, ctx) => {
      const next = await s.agent.complete(ctx.principal.attemptId, input);
      return input.next === true ? { ...ok, next } : ok;
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
      const { resumeChoice } = await s.sessions.endSession(
        ctx.principal.attemptId,
        input.reason,
        input.error,
        input.resume,
      );
      // The IDE's resume commands or the debugger: the person's choice, reported by the agent.
      if (input.reason === "resumed")
        await s.identity.audit.record(
          ctx,
          "session.resume",
          await attemptRefs(s.db, ctx.principal.attemptId),
          { choice: input.resume?.choice ?? resumeChoice ?? "edited", from: "ide" },
        );
      return ok;
    },
  });
}
