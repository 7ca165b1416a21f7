import { z } from "zod";

import { ErrorInfoSchema, Timestamp } from "./common.js";

export { describePause } from "./constants.js";

export const SessionState = z.enum(["STARTING", "READY", "ENDED"]);
/** `unopened`: nobody opened the IDE within maxUnopenedSeconds; `idle`: it was used, then idle for maxIdleSeconds. */
export const SessionEndReason = z.enum(["resumed", "idle", "unopened", "aborted", "failed"]);
export type SessionEndReason = z.infer<typeof SessionEndReason>;

/** The default of `vscode({ maxIdleSeconds })`: ten hours, as in the seed. */
export const DEFAULT_MAX_IDLE_SECONDS = 36_000;

/** The error code of an attempt whose session ended idle: distinct from the task's own failures, never retried. */
export const SESSION_IDLE_CODE = "SESSION_IDLE";
/** The error code of an attempt whose session nobody opened within maxUnopenedSeconds; never retried either. */
export const SESSION_UNOPENED_CODE = "SESSION_UNOPENED";

/**
 * The default of `vscode({ maxUnopenedSeconds })`: a quarter of maxIdleSeconds, at least a minute, never
 * more than maxIdleSeconds (10 h idle → 2.5 h to open it). A session nobody opens should not hold a machine
 * as long as one somebody is using.
 */
export function defaultMaxUnopenedSeconds(maxIdleSeconds: number): number {
  return Math.min(maxIdleSeconds, Math.max(60, Math.round(maxIdleSeconds / 4)));
}

/** Which of the two limits ends the session now: `unopened` until someone first opens its IDE, then `idle`. */
export const SessionLimit = z.enum(["unopened", "idle"]);
export type SessionLimit = z.infer<typeof SessionLimit>;

/**
 * How a paused task's session ends (post-mortem or a pause point): `edited` runs the IDE's edited sources
 * for real (Resume Task); `original` ends this attempt and runs the registered code again as a new attempt
 * (a plain retry, the edits kept for \`changes\`); `fail` ends the node as FAILED with the original error and
 * stack (no retry, downstream does not run). `continued` is recorded, never asked for: the paused process
 * was continued in the debugger and ran to its end.
 */
export const ResumeChoice = z.enum(["edited", "original", "fail"]);
export type ResumeChoice = z.infer<typeof ResumeChoice>;
export const RecordedResumeChoice = z.enum(["edited", "original", "fail", "continued"]);
export type RecordedResumeChoice = z.infer<typeof RecordedResumeChoice>;

/** The error code of an attempt that ended so the original code runs again (`original`): always retried. */
export const RESUME_ORIGINAL_CODE = "RESUMED_WITH_ORIGINAL_CODE";
/** The error code of an attempt ended as failed by a user's choice (`fail`): never retried. */
export const RESUME_FAIL_CODE = "ENDED_AS_FAILED";

/** Who chose how a session resumed, which choice, and when; recorded on the attempt. */
export const ResumeRecordSchema = z.object({
  choice: RecordedResumeChoice,
  /** A user's e-mail or id, `the IDE`, or `the debugger`. */
  by: z.string(),
  at: Timestamp,
});
export type ResumeRecord = z.infer<typeof ResumeRecordSchema>;

/**
 * Where a task's process is paused while its session is open: at the throw that escaped the task function
 * (`exception`, with vscode({ onFailure: "pause" })), or on its first line (`before`, a pause point). `file` is
 * relative to the bundle's root (the .ts source, through source maps), `line` 1-based.
 */
export const PauseInfoSchema = z.object({
  reason: z.enum(["exception", "before"]),
  file: z.string().optional(),
  line: z.number().int().min(1).optional(),
  /** The error's message (exception), or what the pause is for (before). */
  message: z.string(),
  name: z.string().optional(),
  stack: z.string().optional(),
  at: Timestamp,
});
export type PauseInfo = z.infer<typeof PauseInfoSchema>;

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
  /** Seconds a session nobody has opened yet stays up (see defaultMaxUnopenedSeconds). */
  maxUnopenedSeconds: z.number().int().positive(),
  /** When someone first opened the IDE (a ticket redeemed); until then the `unopened` limit applies. */
  openedAt: Timestamp.optional(),
  /** The limit `idleDeadline` belongs to. */
  limit: SessionLimit.default("idle"),
  /**
   * When the session ends unless there is activity first: maxUnopenedSeconds after it opened while nobody
   * has opened its IDE, then maxIdleSeconds after the last activity.
   */
  idleDeadline: Timestamp.optional(),
  /** Set once a user asked to resume (console, CLI); the agent resumes at its next heartbeat. */
  resumeRequestedAt: Timestamp.optional(),
  /** The choice asked for with it (`edited` when the session is not paused). */
  resumeChoice: ResumeChoice.optional(),
  /** While the task's process is paused in this session (post-mortem or a pause point): where and why. */
  pause: PauseInfoSchema.optional(),
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

/** sessions.resume: `drydock resume <execution> <node> [--edited | --original | --fail]`. */
export const ResumeSessionInput = NodeRefInput.extend({ choice: ResumeChoice.default("edited") });

/** sessions.changes: the IDE's edits as a unified diff against the registered sources ("" when none). */
export const SessionChangesOutput = z.object({
  sessionId: z.string(),
  patch: z.string(),
  /** When the agent last saved them; absent when it never did. */
  savedAt: Timestamp.optional(),
});
