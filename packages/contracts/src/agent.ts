import { z } from "zod";

import { ErrorInfoSchema, Sha256 } from "./common.js";
import { TaskSpecSchema } from "./tasks.js";

/** Everything an agent needs to run its attempt; URLs are signed and expire. */
export const AttemptAssignmentSchema = z.object({
  attemptId: z.string(),
  executionId: z.string(),
  nodeId: z.string(),
  attemptNumber: z.number().int(),
  task: TaskSpecSchema,
  bundle: z.object({ sha256: Sha256, url: z.string(), entry: z.string() }),
  inputsUrl: z.string(),
  outputsUploadUrl: z.string(),
});
export type AttemptAssignment = z.infer<typeof AttemptAssignmentSchema>;

export const AgentStartedInput = z.object({ pid: z.number().int().positive() });
export const AgentHeartbeatOutput = z.object({
  /** False once the attempt was aborted, timed out or otherwise ended: the agent stops. */
  proceed: z.boolean(),
});
export const LogLineSchema = z.object({
  stream: z.enum(["stdout", "stderr", "system"]),
  text: z.string(),
  at: z.string(),
});
export const AgentLogInput = z.object({ lines: z.array(LogLineSchema).max(5_000) });
export const AgentCompleteInput = z.object({ outputsSha256: Sha256 });
export const AgentFailInput = z.object({ error: ErrorInfoSchema });
export const AckSchema = z.object({ ok: z.literal(true) });

/**
 * What a warm agent gets after finishing its attempt: the next queued attempt of the same execution, to run
 * in the same process, already marked started, with its token and assignment; or null when there is none
 * (the agent then exits).
 */
export const AgentNextOutput = z.object({ next: z.object({ token: z.string(), assignment: AttemptAssignmentSchema }).nullable() });
