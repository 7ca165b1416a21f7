import { z } from "zod";

import { ErrorInfoSchema, JsonValueSchema, Timestamp } from "./common.js";
import { ExecutionDetailSchema, ExecutionStatus, NodeStatus } from "./executions.js";

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
]);
export type ExecutionEvent = z.infer<typeof ExecutionEventSchema>;
