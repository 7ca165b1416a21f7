import { z } from "zod";

import type { ExecutionEvent, ExecutionListEvent, LogChunk } from "../events.js";
import {
  AttemptLogsInput,
  AttemptLogsOutput,
  CreateExecutionInput,
  DebugExecutionInput,
  ExecutionDetailSchema,
  ExecutionIdInput,
  ExecutionSchema,
  ExecutionSummarySchema,
  ListExecutionsInput,
  NodeExecutionSchema,
  RecoverExecutionInput,
  WatchListInput,
} from "../executions.js";
import { NodeRefInput } from "../sessions.js";
import { eventType } from "./procedure.js";
import { mutation, query, subscription } from "./access.js";

export const executionProcedures = {
  create: mutation("editor@project", { input: CreateExecutionInput, output: ExecutionSchema }),
  /** Newest first, as summaries: inputs and result as a preview and a size (`get` has them whole). */
  list: query("viewer@project", {
    input: ListExecutionsInput,
    output: z.array(ExecutionSummarySchema),
  }),
  get: query("viewer@execution", { input: ExecutionIdInput, output: ExecutionDetailSchema }),
  /** One node with its attempts and sessions, for a task pane that follows it. */
  node: query("viewer@execution", { input: NodeRefInput, output: NodeExecutionSchema }),
  abort: mutation("editor@execution", { input: ExecutionIdInput, output: ExecutionSchema }),
  /** A new execution re-running one node of a past one interactively, with the inputs it had. */
  debug: mutation("editor@execution", { input: DebugExecutionInput, output: ExecutionSchema }),
  /**
   * A new execution of the same version, linked to this ended one, that reuses the outputs of every node
   * that succeeded with the same task and inputs and runs the rest (and `force`'s nodes and their downstream).
   */
  recover: mutation("editor@execution", { input: RecoverExecutionInput, output: ExecutionSchema }),
  /**
   * Registers a new version made of this execution's sources plus the IDE edits of the node's session
   * (lineage recorded), and starts it with this execution's inputs: the edited node and its downstream run,
   * unchanged upstream nodes are reused.
   */
  fork: mutation("editor@execution", { input: NodeRefInput, output: ExecutionSchema }),
  logs: query("viewer@attempt", { input: AttemptLogsInput, output: AttemptLogsOutput }),
  /** The execution as a snapshot, then its changes as they happen. */
  watch: subscription("viewer@execution", {
    input: ExecutionIdInput,
    event: eventType<ExecutionEvent>(),
  }),
  /** The project's executions as they start and change status (the console's list). */
  watchList: subscription("viewer@project", {
    input: WatchListInput,
    event: eventType<ExecutionListEvent>(),
  }),
  /** An attempt's log from an offset, then as it grows, until the attempt ends. */
  tailLogs: subscription("viewer@attempt", {
    input: AttemptLogsInput,
    event: eventType<LogChunk>(),
  }),
};
