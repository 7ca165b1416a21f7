import { z } from "zod";

import { ErrorInfoSchema, JsonValueSchema, Timestamp } from "./common.js";
import {
  ExecutionDetailSchema,
  ExecutionStatus,
  ExecutionSummarySchema,
  NodeReuseSchema,
  NodeStatus,
} from "./executions.js";
import { InteractiveSessionSchema } from "./sessions.js";

/** What `executions.watch` streams: a snapshot first, then changes as they happen. */
export const ExecutionEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("snapshot"), detail: ExecutionDetailSchema }),
  z.object({
    type: z.literal("node"),
    executionId: z.string(),
    nodeId: z.string(),
    status: NodeStatus,
    attempt: z.number().int().optional(),
    error: ErrorInfoSchema.optional(),
    /** The node SUCCEEDED by reusing outputs (from the parent execution or the cache). */
    reused: NodeReuseSchema.optional(),
    at: Timestamp,
  }),
  z.object({
    type: z.literal("execution"),
    executionId: z.string(),
    status: ExecutionStatus,
    result: JsonValueSchema.optional(),
    error: ErrorInfoSchema.optional(),
    at: Timestamp,
  }),
  /**
   * A node's interactive session changed: opened, READY (its link appears), its idle deadline moved, a resume
   * was asked for, edits were saved, it ended. Carries the whole session, to replace the attempt's.
   */
  z.object({
    type: z.literal("session"),
    executionId: z.string(),
    nodeId: z.string(),
    attemptId: z.string(),
    session: InteractiveSessionSchema,
  }),
]);
export type ExecutionEvent = z.infer<typeof ExecutionEventSchema>;

/** What `executions.watchList` streams: an execution of the project as it is now (as lists show it), whenever one starts or changes status. */
export const ExecutionListEventSchema = z.object({ execution: ExecutionSummarySchema });
export type ExecutionListEvent = z.infer<typeof ExecutionListEventSchema>;

/** What `executions.tailLogs` streams: the attempt's log from an offset, as it grows; `ended` once the attempt ended and all of it was sent. */
export const LogChunkSchema = z.object({
  text: z.string(),
  nextOffset: z.number().int(),
  ended: z.boolean(),
});
export type LogChunk = z.infer<typeof LogChunkSchema>;
