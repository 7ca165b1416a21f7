/**
 * The tRPC router contract between Drydock's processes. The server supplies the handlers; clients
 * (CLI, console, agent, extension) import `type { AppRouter }` only. Every procedure declares its
 * input and output schemas here, so a contract change is a change to this file.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { z, ZodError } from "zod";

import {
  AckSchema,
  AgentCompleteInput,
  AgentFailInput,
  AgentHeartbeatInput,
  AgentHeartbeatOutput,
  AgentLogInput,
  AgentNextOutput,
  AgentStartedInput,
  AttemptAssignmentSchema,
} from "./agent.js";
import { ProjectSchema } from "./common.js";
import { AppError } from "./errors.js";
import type { ExecutionEvent, ExecutionListEvent, LogChunk } from "./events.js";
import {
  AttemptLogsInput,
  AttemptLogsOutput,
  CreateExecutionInput,
  ExecutionDetailSchema,
  ExecutionIdInput,
  ExecutionSchema,
  ExecutionSummarySchema,
  ListExecutionsInput,
  NodeExecutionSchema,
  WatchListInput,
} from "./executions.js";
import {
  AgentEndSessionInput,
  AgentOpenSessionInput,
  AgentOpenSessionOutput,
  AgentUpdateSessionInput,
  AuthorizeTunnelInput,
  AuthorizeTunnelOutput,
  IdeTicketOutput,
  RedeemTicketInput,
  RedeemTicketOutput,
  SessionIdInput,
} from "./relay.js";
import { InteractiveSessionSchema, NodeRefInput, SessionChangesOutput } from "./sessions.js";
import {
  CreateUploadInput,
  CreateUploadOutput,
  GetWorkflowInput,
  ListWorkflowsInput,
  RegisterWorkflowsInput,
  RegisterWorkflowsOutput,
  WorkflowSummarySchema,
  WorkflowVersionSchema,
} from "./workflows.js";

/**
 * Who is calling: the local user (token), the agent of one attempt (attempt-scoped token), or a relay
 * (the relay token shared by the control plane and its relays).
 */
export type Principal = { kind: "user"; userId: string } | { kind: "agent"; attemptId: string } | { kind: "relay" };

export interface RequestContext {
  principal: Principal | null;
  requestId: string;
}
export type UserContext = RequestContext & { principal: Extract<Principal, { kind: "user" }> };
export type AgentContext = RequestContext & { principal: Extract<Principal, { kind: "agent" }> };
export type RelayContext = RequestContext & { principal: Extract<Principal, { kind: "relay" }> };

type Handler<I extends z.ZodType, O extends z.ZodType, C> = (input: z.output<I>, ctx: C) => Promise<z.input<O>>;
type Subscription<I extends z.ZodType, E, C> = (input: z.output<I>, ctx: C, signal: AbortSignal) => AsyncIterable<E>;

/** What the server implements; business logic lives behind these, free of HTTP. */
/** Where the server runs task attempts: `local` processes, or `docker` containers of each task's image. */
export const ExecutorKindSchema = z.enum(["local", "docker"]);
export type ExecutorKind = z.infer<typeof ExecutorKindSchema>;
export const HealthSchema = z.object({ ok: z.literal(true), executor: ExecutorKindSchema });

export interface AppHandlers {
  health: () => z.infer<typeof HealthSchema>;
  projects: { list: Handler<z.ZodVoid, z.ZodArray<typeof ProjectSchema>, UserContext> };
  workflows: {
    createUpload: Handler<typeof CreateUploadInput, typeof CreateUploadOutput, UserContext>;
    register: Handler<typeof RegisterWorkflowsInput, typeof RegisterWorkflowsOutput, UserContext>;
    list: Handler<typeof ListWorkflowsInput, z.ZodArray<typeof WorkflowSummarySchema>, UserContext>;
    get: Handler<typeof GetWorkflowInput, typeof WorkflowVersionSchema, UserContext>;
  };
  executions: {
    create: Handler<typeof CreateExecutionInput, typeof ExecutionSchema, UserContext>;
    /** Newest first, as summaries: inputs and result as a preview and a size (`get` has them whole). */
    list: Handler<typeof ListExecutionsInput, z.ZodArray<typeof ExecutionSummarySchema>, UserContext>;
    get: Handler<typeof ExecutionIdInput, typeof ExecutionDetailSchema, UserContext>;
    /** One node with its attempts and sessions, for a task pane that follows it. */
    node: Handler<typeof NodeRefInput, typeof NodeExecutionSchema, UserContext>;
    abort: Handler<typeof ExecutionIdInput, typeof ExecutionSchema, UserContext>;
    /** A new execution re-running one node of a past one interactively, with the inputs it had. */
    debug: Handler<typeof NodeRefInput, typeof ExecutionSchema, UserContext>;
    logs: Handler<typeof AttemptLogsInput, typeof AttemptLogsOutput, UserContext>;
    watch: Subscription<typeof ExecutionIdInput, ExecutionEvent, UserContext>;
    /** The project's executions as they start and change status (the console's list). */
    watchList: Subscription<typeof WatchListInput, ExecutionListEvent, UserContext>;
    /** An attempt's log from an offset, then as it grows, until the attempt ends. */
    tailLogs: Subscription<typeof AttemptLogsInput, LogChunk, UserContext>;
  };
  agent: {
    assignment: Handler<z.ZodVoid, typeof AttemptAssignmentSchema, AgentContext>;
    started: Handler<typeof AgentStartedInput, typeof AckSchema, AgentContext>;
    heartbeat: Handler<typeof AgentHeartbeatInput, typeof AgentHeartbeatOutput, AgentContext>;
    log: Handler<typeof AgentLogInput, typeof AckSchema, AgentContext>;
    complete: Handler<typeof AgentCompleteInput, typeof AckSchema, AgentContext>;
    fail: Handler<typeof AgentFailInput, typeof AckSchema, AgentContext>;
    next: Handler<z.ZodVoid, typeof AgentNextOutput, AgentContext>;
    openSession: Handler<typeof AgentOpenSessionInput, typeof AgentOpenSessionOutput, AgentContext>;
    updateSession: Handler<typeof AgentUpdateSessionInput, typeof AckSchema, AgentContext>;
    endSession: Handler<typeof AgentEndSessionInput, typeof AckSchema, AgentContext>;
  };
  sessions: {
    ideTicket: Handler<typeof SessionIdInput, typeof IdeTicketOutput, UserContext>;
    /** Ends the node's live session by resuming the task (as the IDE's Resume Task does). */
    resume: Handler<typeof NodeRefInput, typeof InteractiveSessionSchema, UserContext>;
    /** Postpones the node's live session's idle end by its full maxIdleSeconds from now. */
    keepAlive: Handler<typeof NodeRefInput, typeof InteractiveSessionSchema, UserContext>;
    /** The IDE's edits of the node's latest session, as a unified diff; also after it ended. */
    changes: Handler<typeof NodeRefInput, typeof SessionChangesOutput, UserContext>;
  };
  relay: {
    authorizeTunnel: Handler<typeof AuthorizeTunnelInput, typeof AuthorizeTunnelOutput, RelayContext>;
    redeemTicket: Handler<typeof RedeemTicketInput, typeof RedeemTicketOutput, RelayContext>;
    sessionReady: Handler<typeof SessionIdInput, typeof AckSchema, RelayContext>;
  };
}

function describeZodError(error: ZodError): string {
  return error.issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

const t = initTRPC.context<RequestContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const appCode = cause instanceof AppError ? cause.code : error.code === "BAD_REQUEST" && cause instanceof ZodError ? "INVALID_INPUT" : undefined;
    const message = cause instanceof ZodError ? `invalid request: ${describeZodError(cause)}` : shape.message;
    return { ...shape, message, data: { ...shape.data, appCode, stack: undefined } };
  },
});

/** Maps an AppError thrown by a handler to its transport code, once, here. */
const mapAppErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: cause.kind, message: cause.message, cause });
  }
  return result;
});

const base = t.procedure.use(mapAppErrors);

const userProcedure = base.use(({ ctx, next }) => {
  if (ctx.principal?.kind !== "user") {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "a user token is required (drydock up prints one)" });
  }
  return next({ ctx: { ...ctx, principal: ctx.principal } });
});

const agentProcedure = base.use(({ ctx, next }) => {
  if (ctx.principal?.kind !== "agent") {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "an attempt-scoped agent token is required" });
  }
  return next({ ctx: { ...ctx, principal: ctx.principal } });
});

const relayProcedure = base.use(({ ctx, next }) => {
  if (ctx.principal?.kind !== "relay") {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "the relay token is required" });
  }
  return next({ ctx: { ...ctx, principal: ctx.principal } });
});

/** Builds the router around the server's handlers. */
export function createAppRouter(h: AppHandlers) {
  return t.router({
    /** Unauthenticated: the server is up, and where it runs tasks (the CLI builds task images for `docker`). */
    health: base.output(HealthSchema).query(() => h.health()),
    projects: t.router({
      list: userProcedure.output(z.array(ProjectSchema)).query(({ ctx }) => h.projects.list(undefined, ctx)),
    }),
    workflows: t.router({
      createUpload: userProcedure
        .input(CreateUploadInput)
        .output(CreateUploadOutput)
        .mutation(({ input, ctx }) => h.workflows.createUpload(input, ctx)),
      register: userProcedure
        .input(RegisterWorkflowsInput)
        .output(RegisterWorkflowsOutput)
        .mutation(({ input, ctx }) => h.workflows.register(input, ctx)),
      list: userProcedure
        .input(ListWorkflowsInput)
        .output(z.array(WorkflowSummarySchema))
        .query(({ input, ctx }) => h.workflows.list(input, ctx)),
      get: userProcedure
        .input(GetWorkflowInput)
        .output(WorkflowVersionSchema)
        .query(({ input, ctx }) => h.workflows.get(input, ctx)),
    }),
    executions: t.router({
      create: userProcedure
        .input(CreateExecutionInput)
        .output(ExecutionSchema)
        .mutation(({ input, ctx }) => h.executions.create(input, ctx)),
      list: userProcedure
        .input(ListExecutionsInput)
        .output(z.array(ExecutionSummarySchema))
        .query(({ input, ctx }) => h.executions.list(input, ctx)),
      get: userProcedure
        .input(ExecutionIdInput)
        .output(ExecutionDetailSchema)
        .query(({ input, ctx }) => h.executions.get(input, ctx)),
      node: userProcedure
        .input(NodeRefInput)
        .output(NodeExecutionSchema)
        .query(({ input, ctx }) => h.executions.node(input, ctx)),
      abort: userProcedure
        .input(ExecutionIdInput)
        .output(ExecutionSchema)
        .mutation(({ input, ctx }) => h.executions.abort(input, ctx)),
      debug: userProcedure
        .input(NodeRefInput)
        .output(ExecutionSchema)
        .mutation(({ input, ctx }) => h.executions.debug(input, ctx)),
      logs: userProcedure
        .input(AttemptLogsInput)
        .output(AttemptLogsOutput)
        .query(({ input, ctx }) => h.executions.logs(input, ctx)),
      watch: userProcedure.input(ExecutionIdInput).subscription(async function* ({ input, ctx, signal }) {
        yield* h.executions.watch(input, ctx, signal ?? new AbortController().signal);
      }),
      watchList: userProcedure.input(WatchListInput).subscription(async function* ({ input, ctx, signal }) {
        yield* h.executions.watchList(input, ctx, signal ?? new AbortController().signal);
      }),
      tailLogs: userProcedure.input(AttemptLogsInput).subscription(async function* ({ input, ctx, signal }) {
        yield* h.executions.tailLogs(input, ctx, signal ?? new AbortController().signal);
      }),
    }),
    agent: t.router({
      assignment: agentProcedure.output(AttemptAssignmentSchema).query(({ ctx }) => h.agent.assignment(undefined, ctx)),
      started: agentProcedure
        .input(AgentStartedInput)
        .output(AckSchema)
        .mutation(({ input, ctx }) => h.agent.started(input, ctx)),
      heartbeat: agentProcedure
        .input(AgentHeartbeatInput)
        .output(AgentHeartbeatOutput)
        .mutation(({ input, ctx }) => h.agent.heartbeat(input, ctx)),
      log: agentProcedure
        .input(AgentLogInput)
        .output(AckSchema)
        .mutation(({ input, ctx }) => h.agent.log(input, ctx)),
      complete: agentProcedure
        .input(AgentCompleteInput)
        .output(AckSchema)
        .mutation(({ input, ctx }) => h.agent.complete(input, ctx)),
      fail: agentProcedure
        .input(AgentFailInput)
        .output(AckSchema)
        .mutation(({ input, ctx }) => h.agent.fail(input, ctx)),
      next: agentProcedure.output(AgentNextOutput).mutation(({ ctx }) => h.agent.next(undefined, ctx)),
      openSession: agentProcedure
        .input(AgentOpenSessionInput)
        .output(AgentOpenSessionOutput)
        .mutation(({ input, ctx }) => h.agent.openSession(input, ctx)),
      updateSession: agentProcedure
        .input(AgentUpdateSessionInput)
        .output(AckSchema)
        .mutation(({ input, ctx }) => h.agent.updateSession(input, ctx)),
      endSession: agentProcedure
        .input(AgentEndSessionInput)
        .output(AckSchema)
        .mutation(({ input, ctx }) => h.agent.endSession(input, ctx)),
    }),
    sessions: t.router({
      ideTicket: userProcedure
        .input(SessionIdInput)
        .output(IdeTicketOutput)
        .mutation(({ input, ctx }) => h.sessions.ideTicket(input, ctx)),
      resume: userProcedure
        .input(NodeRefInput)
        .output(InteractiveSessionSchema)
        .mutation(({ input, ctx }) => h.sessions.resume(input, ctx)),
      keepAlive: userProcedure
        .input(NodeRefInput)
        .output(InteractiveSessionSchema)
        .mutation(({ input, ctx }) => h.sessions.keepAlive(input, ctx)),
      changes: userProcedure
        .input(NodeRefInput)
        .output(SessionChangesOutput)
        .query(({ input, ctx }) => h.sessions.changes(input, ctx)),
    }),
    relay: t.router({
      authorizeTunnel: relayProcedure
        .input(AuthorizeTunnelInput)
        .output(AuthorizeTunnelOutput)
        .mutation(({ input, ctx }) => h.relay.authorizeTunnel(input, ctx)),
      redeemTicket: relayProcedure
        .input(RedeemTicketInput)
        .output(RedeemTicketOutput)
        .mutation(({ input, ctx }) => h.relay.redeemTicket(input, ctx)),
      sessionReady: relayProcedure
        .input(SessionIdInput)
        .output(AckSchema)
        .mutation(({ input, ctx }) => h.relay.sessionReady(input, ctx)),
    }),
  });
}

export type AppRouter = ReturnType<typeof createAppRouter>;
export { TRPCError };
