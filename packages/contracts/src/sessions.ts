import { z } from "zod";

import { ErrorInfoSchema, Timestamp } from "./common.js";

export const SessionState = z.enum(["STARTING", "READY", "ENDED"]);
export const SessionEndReason = z.enum(["resumed", "idle", "aborted", "failed"]);
export type SessionEndReason = z.infer<typeof SessionEndReason>;

/** The default of `vscode({ maxIdleSeconds })`: ten hours, as in the seed. */
export const DEFAULT_MAX_IDLE_SECONDS = 36_000;

/** The error code of an attempt whose session ended idle: distinct from the task's own failures, never retried. */
export const SESSION_IDLE_CODE = "SESSION_IDLE";

/** An extension that could not be downloaded or installed into the session (the IDE opens regardless). */
export const ExtensionProblemSchema = z.object({ extension: z.string(), message: z.string() });
export type ExtensionProblem = z.infer<typeof ExtensionProblemSchema>;

/** An interactive (VS Code) session of one attempt. */
export const InteractiveSessionSchema = z.object({
  id: z.string(),
  attemptId: z.string(),
  state: SessionState,
  /** The IDE link, present only once code-server answers through the relay. */
  link: z.string().optional(),
  /** Seconds without activity (relay traffic, the editor's heartbeat, keep-alive) before the session ends idle. */
  maxIdleSeconds: z.number().int().positive(),
  /** When the session ends idle unless there is activity first; moves on with every activity. */
  idleDeadline: Timestamp.optional(),
  /** Set once a user asked to resume (console, CLI); the agent resumes at its next heartbeat. */
  resumeRequestedAt: Timestamp.optional(),
  extensionProblems: z.array(ExtensionProblemSchema).default([]),
  /** True once the agent saved edits of the sources (see `sessions.changes`). */
  hasChanges: z.boolean().default(false),
  endReason: SessionEndReason.optional(),
  /** With runTaskFirst: why the first run failed (message and stack), which is why the IDE opened. */
  firstRunError: ErrorInfoSchema.optional(),
  createdAt: Timestamp,
  endedAt: Timestamp.optional(),
});
export type InteractiveSession = z.infer<typeof InteractiveSessionSchema>;

/** A node of an execution, as the CLI and console name it: `drydock resume <execution> <node>`. */
export const NodeRefInput = z.object({ executionId: z.string().min(1), nodeId: z.string().min(1) });

/** sessions.changes: the IDE's edits as a unified diff against the registered sources ("" when none). */
export const SessionChangesOutput = z.object({
  sessionId: z.string(),
  patch: z.string(),
  /** When the agent last saved them; absent when it never did. */
  savedAt: Timestamp.optional(),
});
