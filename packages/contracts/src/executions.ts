import { z } from "zod";

import { UserRefSchema } from "./identity.js";

import { EntityName, ErrorInfoSchema, JsonValueSchema, Timestamp } from "./common.js";
import { jsonLimitProblem, MAX_INPUTS_BYTES } from "./json-limits.js";
import { InteractiveSessionSchema, NodeRefInput, ResumeRecordSchema } from "./sessions.js";
import { ForkLineageSchema } from "./workflows.js";

export const ExecutionStatus = z.enum(["RUNNING", "SUCCEEDED", "FAILED", "ABORTED"]);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

export const NodeStatus = z.enum([
  "PENDING",
  "QUEUED",
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "ABORTED",
  "SKIPPED",
]);
export type NodeStatus = z.infer<typeof NodeStatus>;

export const AttemptStatus = z.enum([
  "QUEUED",
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "LOST",
  "ABORTED",
]);
export type AttemptStatus = z.infer<typeof AttemptStatus>;

/**
 * A recovered or forked execution's link to the one it came from. `recover` re-runs the same version from
 * its failure (`force`: nodes run again even if they succeeded); `fork` runs a new version made of the
 * parent's sources plus the IDE edits of `nodeId`'s session.
 */
export const ExecutionParentSchema = z.object({
  executionId: z.string(),
  kind: z.enum(["recover", "fork"]),
  nodeId: z.string().optional(),
  force: z.array(z.string()).default([]),
});
export type ExecutionParent = z.infer<typeof ExecutionParentSchema>;

/**
 * A node that ran no task because its outputs were reused: from the parent execution (`recover`, `fork`)
 * or from the task cache (any earlier execution). `executionId`/`nodeId`/`attemptId` name the run that
 * produced the outputs; `outputsSha256` is the sha256 of the outputs as that attempt stored them.
 */
export const NodeReuseSchema = z.object({
  from: z.enum(["parent", "cache"]),
  executionId: z.string(),
  nodeId: z.string(),
  attemptId: z.string().optional(),
  outputsSha256: z.string().optional(),
});
export type NodeReuse = z.infer<typeof NodeReuseSchema>;

export const ExecutionSchema = z.object({
  id: z.string(),
  project: z.string(),
  workflow: EntityName,
  version: z.string(),
  status: ExecutionStatus,
  inputs: z.record(z.string(), JsonValueSchema),
  result: JsonValueSchema.optional(),
  error: ErrorInfoSchema.optional(),
  createdAt: Timestamp,
  endedAt: Timestamp.optional(),
  /** Set on a debug run (`drydock debug`): the node of a past execution it re-runs interactively. */
  debugOf: z.object({ executionId: z.string(), nodeId: z.string() }).optional(),
  /** Who launched it: the owner of its interactive sessions. Absent for executions from before people existed. */
  createdBy: UserRefSchema.optional(),
  /** Set on an execution made by `recover` or `fork`. */
  parent: ExecutionParentSchema.optional(),
  /** Launched with `--overwrite-cache`: cached tasks ran again and replaced their cache entries. */
  overwriteCache: z.boolean().default(false),
  /** Pause points (`--pause-before`): these nodes' tasks are held on their first line with their IDE open. */
  pauseBefore: z.array(z.string()).default([]),
});
export type Execution = z.infer<typeof ExecutionSchema>;

/** How many characters of an execution's inputs (as JSON) a list row shows. */
export const PREVIEW_CHARS = 200;

/**
 * An execution as lists show it (`executions.list`, `watchList`): its inputs and result as a short preview of
 * their JSON and its size in bytes, never the values themselves (`executions.get` has them).
 */
export const ExecutionSummarySchema = ExecutionSchema.omit({
  inputs: true,
  result: true,
  error: true,
}).extend({
  /** The inputs as JSON, cut to PREVIEW_CHARS characters (ending in "…" when cut). */
  inputsPreview: z.string(),
  inputsBytes: z.number().int().min(0),
  resultPreview: z.string().optional(),
  resultBytes: z.number().int().min(0).optional(),
  /** Why it failed: the message cut to PREVIEW_CHARS characters, and the code; the stack is in `get`. */
  error: ErrorInfoSchema.pick({ message: true, code: true }).optional(),
});
export type ExecutionSummary = z.infer<typeof ExecutionSummarySchema>;

export const AttemptSchema = z.object({
  id: z.string(),
  executionId: z.string(),
  nodeId: z.string(),
  number: z.number().int().min(1),
  status: AttemptStatus,
  error: ErrorInfoSchema.optional(),
  createdAt: Timestamp,
  startedAt: Timestamp.optional(),
  endedAt: Timestamp.optional(),
  /** Set when lines of the attempt's log could not be stored: how many, and why (the log is incomplete). */
  logLost: z.object({ lines: z.number().int().min(0), reason: z.string() }).optional(),
  /** The attempt's interactive session, its latest if it had several: state, link once READY, why it ended. */
  session: InteractiveSessionSchema.optional(),
  /** How its paused or interactive session was resumed: which choice, by whom, when. */
  resume: ResumeRecordSchema.optional(),
});
export type Attempt = z.infer<typeof AttemptSchema>;

/** One node of one execution; fan-out elements are nodes with a parent (`n2[0]`, `n2[1]`, …). */
export const NodeExecutionSchema = z.object({
  executionId: z.string(),
  nodeId: z.string(),
  task: EntityName,
  parentNodeId: z.string().optional(),
  mapIndex: z.number().int().optional(),
  status: NodeStatus,
  inputs: z.record(z.string(), JsonValueSchema).optional(),
  outputs: JsonValueSchema.optional(),
  error: ErrorInfoSchema.optional(),
  attempts: z.array(AttemptSchema),
  startedAt: Timestamp.optional(),
  endedAt: Timestamp.optional(),
  /** Set when the node SUCCEEDED without running: its outputs were reused (no attempt, no agent). */
  reused: NodeReuseSchema.optional(),
});
export type NodeExecution = z.infer<typeof NodeExecutionSchema>;

export const ExecutionDetailSchema = z.object({
  execution: ExecutionSchema,
  nodes: z.array(NodeExecutionSchema),
  /** When the execution runs a version made by `fork`: that version's lineage (its parent version and the edit). */
  lineage: ForkLineageSchema.optional(),
});
export type ExecutionDetail = z.infer<typeof ExecutionDetailSchema>;

/**
 * Launch inputs: checked against the nesting and size limits before the recursive JSON schema walks them,
 * so an over-deep or oversized value is refused naming the limit.
 */
const LaunchInputsSchema = z
  .custom<Record<string, unknown>>(() => true)
  .superRefine((value, ctx) => {
    const problem = jsonLimitProblem("inputs", value, { maxBytes: MAX_INPUTS_BYTES });
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .pipe(z.record(z.string(), JsonValueSchema));

export const CreateExecutionInput = z.object({
  project: z.string(),
  workflow: EntityName,
  /** Defaults to the latest registered version. */
  version: z.string().optional(),
  inputs: LaunchInputsSchema.default({}),
  /** Cached tasks run again instead of reusing their cache entries, and replace them. */
  overwriteCache: z.boolean().default(false),
  /**
   * Pause points: workflow node ids whose tasks are held on their first line, with their IDE open and the real
   * inputs loaded, before they run (a fan-out's id pauses each element). Unknown ids are refused, naming them.
   */
  pauseBefore: z.array(z.string().min(1)).max(100).default([]),
});
/** `drydock debug <execution> <node> [--pause-before]`: the debug run's node held on its task's first line. */
export const DebugExecutionInput = NodeRefInput.extend({ pauseBefore: z.boolean().default(false) });
/** `drydock recover`: re-run an ended execution from its failure, reusing what succeeded. */
export const RecoverExecutionInput = z.object({
  id: z.string().min(1),
  /** Nodes to run again even though they succeeded (with everything downstream of them). */
  force: z.array(z.string().min(1)).max(10_000).default([]),
});
export type RecoverExecutionInput = z.infer<typeof RecoverExecutionInput>;
export const WatchListInput = z.object({ project: z.string() });
export const ListExecutionsInput = z.object({
  project: z.string(),
  status: ExecutionStatus.optional(),
  workflow: EntityName.optional(),
  limit: z.number().int().min(1).max(500).default(50),
});
export const ExecutionIdInput = z.object({ id: z.string().min(1) });
export const AttemptLogsInput = z.object({
  attemptId: z.string().min(1),
  offset: z.number().int().min(0).default(0),
});
export const AttemptLogsOutput = z.object({ text: z.string(), nextOffset: z.number().int() });
