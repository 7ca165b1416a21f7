import { z } from "zod";

import { ErrorInfoSchema, Timestamp } from "./common.js";

export const SessionState = z.enum(["STARTING", "READY", "ENDED"]);
export const SessionEndReason = z.enum(["resumed", "idle", "aborted", "failed"]);
export type SessionEndReason = z.infer<typeof SessionEndReason>;

/** An interactive (VS Code) session of one attempt; the interactive-tasks issue fills it in. */
export const InteractiveSessionSchema = z.object({
  id: z.string(),
  attemptId: z.string(),
  state: SessionState,
  /** The IDE link, present only once code-server answers through the relay. */
  link: z.string().optional(),
  idleDeadline: Timestamp.optional(),
  endReason: SessionEndReason.optional(),
  firstRunError: ErrorInfoSchema.optional(),
  createdAt: Timestamp,
  endedAt: Timestamp.optional(),
});
export type InteractiveSession = z.infer<typeof InteractiveSessionSchema>;
