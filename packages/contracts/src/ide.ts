/**
 * The Drydock VS Code extension ↔ the agent holding its session: a tRPC router the agent serves on the
 * session's control socket (a Unix socket in the attempt's private directory, mode 0600), each call carrying
 * the session's control token (`Authorization: Bearer …`). The extension imports `type { IdeRouter }` only.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";

import { ErrorInfoSchema, JsonValueSchema, Timestamp } from "./common.js";
import { PauseInfoSchema, ResumeChoice, SessionLimit } from "./sessions.js";
import { createRouter } from "./router/assemble.js";
import { declareProcedures } from "./router/procedure.js";
import type { HandlersOf } from "./router/procedure.js";

/** What the extension shows about its task: where it runs, what it received, what failed first. */
export const IdeContextSchema = z.object({
  execution: z.object({ id: z.string(), workflow: z.string(), version: z.string() }),
  node: z.object({ id: z.string(), task: z.string() }),
  attempt: z.object({ id: z.string(), number: z.number().int().min(1) }),
  /** The inputs the task received (from upstream outputs), as `Interactive Debugging` and `Resume Task` use them. */
  inputs: z.record(z.string(), JsonValueSchema),
  /** The nodes whose outputs fed this one. */
  upstream: z.array(z.object({ nodeId: z.string(), task: z.string() })),
  /** With runTaskFirst: the first run's error, which is why the IDE opened. */
  firstRunError: ErrorInfoSchema.optional(),
  /** The execution's page in the console, this node's pane open. */
  consoleUrl: z.string().url().optional(),
  /** The workspace's file holding the task, relative to the workspace root. */
  entry: z.string(),
  /**
   * The task's process, paused (post-mortem or a pause point): where, and the launch configuration that
   * attaches VS Code's debugger to it (the extension starts it when the IDE opens). The inspector is a Unix
   * socket in the session's private directory; nothing listens on TCP.
   */
  paused: PauseInfoSchema.extend({ attachConfiguration: z.string() }).optional(),
});
export type IdeContext = z.infer<typeof IdeContextSchema>;

/** Where the session stands, for the status bar's countdown. */
export const IdeStatusSchema = z.object({
  /** "ending" once a resume was accepted or the session is shutting down. */
  state: z.enum(["open", "ending"]),
  maxIdleSeconds: z.number().int().positive(),
  /** Which limit the deadline is (in an opened IDE, `idle` once the server has seen it opened). */
  limit: SessionLimit.default("idle"),
  /** When the session ends idle unless there is activity first (the server's clock). */
  idleDeadline: Timestamp.optional(),
  /** Milliseconds left when the agent last heard from the server. */
  idleRemainingMs: z.number().int().optional(),
  resumeRequested: z.boolean(),
});
export type IdeStatus = z.infer<typeof IdeStatusSchema>;

/** The IDE's edits against the registered sources: the patch, and each changed file's registered text (for a diff view). */
export const IdeChangesSchema = z.object({
  patch: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      original: z.string().nullable(),
      status: z.enum(["modified", "added", "deleted"]),
    }),
  ),
});
export type IdeChanges = z.infer<typeof IdeChangesSchema>;

export const IdeResumeOutput = z.object({ accepted: z.boolean(), message: z.string() });

/** Who may call: the holder of the session's control token; checked by the agent before any procedure. */
export interface IdeRequestContext {
  authorized: boolean;
}

const { query, mutation } = declareProcedures<"control">();

/** Every procedure of the IDE router; each needs the session's control token. */
export const ideProcedures = {
  context: query("control", { output: IdeContextSchema }),
  status: query("control", { output: IdeStatusSchema }),
  /** Activity from the person in the IDE (the status bar's click): the idle deadline moves a full maxIdleSeconds on. */
  keepAlive: mutation("control", { output: IdeStatusSchema }),
  /**
   * Stops code-server and runs the task for real with the edited sources (`edited`, the default), or — for a
   * paused task — ends this attempt so the original code runs again (`original`), or fails the node with the
   * original error (`fail`); false once the session is already ending.
   */
  resume: mutation("control", {
    input: z.object({ choice: ResumeChoice.default("edited") }).optional(),
    output: IdeResumeOutput,
  }),
  changes: query("control", { output: IdeChangesSchema }),
};

/** What the agent implements for its session's IDE. */
export type IdeHandlers = HandlersOf<typeof ideProcedures, { control: IdeRequestContext }>;

const t = initTRPC.context<IdeRequestContext>().create();
const controlProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.authorized)
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: "the session's control token is required (DRYDOCK_CONTROL_TOKEN)",
    });
  return next();
});

/** Builds the agent-side router around its handlers. */
export function createIdeRouter(handlers: IdeHandlers) {
  const control = (input: unknown) =>
    input === undefined ? controlProcedure : controlProcedure.input(input as never);
  return createRouter(t.router, { control }, ideProcedures, handlers);
}

export type IdeRouter = ReturnType<typeof createIdeRouter>;
