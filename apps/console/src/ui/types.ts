/** The domain types the console renders, from the contracts (type-only: nothing of zod is bundled). */
import type { InteractiveSession } from "@drydock/contracts";

export type {
  Attempt,
  AttemptStatus,
  Execution,
  ExecutionDetail,
  ExecutionEvent,
  ExecutionListEvent,
  ExecutionStatus,
  ExecutionSummary,
  InteractiveSession,
  LogChunk,
  NodeExecution,
  NodeStatus,
  WorkflowSummary,
  WorkflowVersion,
} from "@drydock/contracts";

export type SessionState = InteractiveSession["state"];
