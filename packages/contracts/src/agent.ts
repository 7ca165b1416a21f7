import { z } from "zod";

import { ErrorInfoSchema, JsonValueSchema, Sha256 } from "./common.js";
import { ResumeChoice, SessionLimit } from "./sessions.js";
import { TaskSpecSchema } from "./tasks.js";

/** Everything an agent needs to run its attempt; URLs are signed and expire. */
export const AttemptAssignmentSchema = z.object({
  attemptId: z.string(),
  executionId: z.string(),
  nodeId: z.string(),
  attemptNumber: z.number().int(),
  task: TaskSpecSchema,
  bundle: z.object({ sha256: Sha256, url: z.string(), entry: z.string() }),
  /**
   * The inputs themselves, when their JSON is at most INLINE_JSON_BYTES (a fan-out element's are small): no
   * round trip for them. Larger ones are served at `inputsUrl` instead; an assignment has one of the two.
   */
  inputs: z.record(z.string(), JsonValueSchema).optional(),
  inputsUrl: z.string().optional(),
  outputsUploadUrl: z.string(),
  /** The execution's workflow and version (what the IDE's Drydock view shows). */
  workflow: z.object({ name: z.string(), version: z.string() }).optional(),
  /** The nodes whose outputs feed this one. */
  upstream: z.array(z.object({ nodeId: z.string(), task: z.string() })).optional(),
  /** This node's pane in the console. */
  consoleUrl: z.string().url().optional(),
  /**
   * A pause point on this node (`--pause-before`): the task runs under the inspector, held on its first line,
   * and its IDE opens with the real inputs loaded; continuing runs it for real.
   */
  pauseBefore: z.boolean().optional(),
});
export type AttemptAssignment = z.infer<typeof AttemptAssignmentSchema>;

export const AgentStartedInput = z.object({ pid: z.number().int().positive() });
/** agent.heartbeat: the agent says whether its session saw activity since the last beat. */
export const AgentHeartbeatInput = z
  .object({
    /** Traffic through the session's tunnel, the editor's heartbeat or a keep-alive from the IDE since the last beat. */
    sessionActive: z.boolean().optional(),
    /** How long the session's tunnel to the relay has been down (0 while it is up); long enough, the session leaves READY. */
    tunnelDownMs: z.number().int().nonnegative().optional(),
    /**
     * Someone signed in to the session's IDE through the task's pinned local port (`vscode({ port })`): the
     * session is opened, as a redeemed relay ticket opens it. Activity alone does not open it: the relay's own
     * readiness probe is traffic too.
     */
    sessionOpened: z.boolean().optional(),
  })
  .optional();
export const AgentHeartbeatOutput = z.object({
  /** False once the attempt was aborted, timed out or otherwise ended: the agent stops. */
  proceed: z.boolean(),
  /** While the attempt has a live interactive session: what the agent must act on. */
  session: z
    .object({
      /** Milliseconds until the session ends idle (measured on the server's clock, so no clock skew matters). */
      idleRemainingMs: z.number().int(),
      idleDeadline: z.string(),
      /** Which limit the deadline is: nobody opened the IDE yet (`unopened`), or it was used (`idle`). */
      limit: SessionLimit,
      /** A user asked to resume (console or CLI). */
      resumeRequested: z.boolean(),
      /** …with this choice (`edited` unless a paused task's session was asked otherwise). */
      resumeChoice: ResumeChoice.optional(),
    })
    .optional(),
});
export const LogLineSchema = z.object({
  stream: z.enum(["stdout", "stderr", "system"]),
  text: z.string(),
  at: z.string(),
});
export const AgentLogInput = z.object({ lines: z.array(LogLineSchema).max(5_000) });
/**
 * Inputs and outputs whose JSON is at most this many bytes travel inside the agent's calls (the assignment,
 * `agent.complete`) rather than as blobs of their own: one round trip per fan-out element instead of three.
 */
export const INLINE_JSON_BYTES = 64 * 1024;

export const AgentCompleteInput = z.object({
  outputsSha256: Sha256,
  /**
   * The output's JSON itself (the bytes `outputsSha256` hashes), when at most INLINE_JSON_BYTES long; a
   * larger output is uploaded to `outputsUploadUrl` first.
   */
  outputsJson: z.string().max(INLINE_JSON_BYTES).optional(),
  /** The task's last log lines, delivered with the result rather than in an `agent.log` call of their own. */
  lines: z.array(LogLineSchema).max(500).optional(),
  /** A warm agent asks for its next attempt in the same call (see AgentNextOutput). */
  next: z.boolean().optional(),
});
export const AgentFailInput = z.object({ error: ErrorInfoSchema });
export const AckSchema = z.object({ ok: z.literal(true) });

/**
 * What a warm agent gets after finishing its attempt: the next queued attempt of the same execution, to run
 * in the same process, already marked started, with its token and assignment; or null when there is none
 * (the agent then exits).
 */
const HandedOver = z.object({ token: z.string(), assignment: AttemptAssignmentSchema });
export const AgentNextOutput = z.object({ next: HandedOver.nullable() });
/** `agent.complete`'s answer: with `next: true` asked, the hand-over `agent.next` would have answered. */
export const AgentCompleteOutput = z.object({
  ok: z.literal(true),
  next: HandedOver.nullable().optional(),
});
