/** The domain types the console renders, from the contracts (type-only: nothing of zod is bundled). */
import type { InteractiveSession } from "@drydock/contracts";
import type { AppRouter } from "@drydock/contracts/router";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

export type {
  Attempt,
  AttemptStatus,
  Execution,
  ExecutionDetail,
  ExecutionEvent,
  ExecutionListEvent,
  ExecutionStatus,
  ExecutionSummary,
  ForkLineage,
  GitOrigin,
  InteractiveSession,
  LogChunk,
  NodeExecution,
  NodeReuse,
  NodeStatus,
  PauseInfo,
  RecordedResumeChoice,
  ResumeChoice,
  ResumeRecord,
  SessionLimit,
  SourceOrigin,
  WorkflowSummary,
  WorkflowVersion,
} from "@drydock/contracts";

export type SessionState = InteractiveSession["state"];

export type {
  ApiKey,
  AuditAction,
  AuditEntry,
  Me,
  Member,
  Role,
  SessionAccess,
  SessionShare,
  UserRef,
} from "@drydock/contracts";

type RouterInputs = inferRouterInputs<AppRouter>;
type RouterOutputs = inferRouterOutputs<AppRouter>;

/** A project I may see, with my role in it (`projects.list`). */
export type ProjectWithRole = RouterOutputs["projects"]["list"][number];
/** What `audit.list` takes: one project's filtered page. */
export type ListAuditInput = RouterInputs["audit"]["list"];
/** What `apiKeys.create` takes. */
export type CreateApiKeyInput = RouterInputs["apiKeys"]["create"];
