import { z } from "zod";

import type { ExecutionEvent, ExecutionListEvent, LogChunk } from "../events.js";
import {
  AttemptLogsInput,
  AttemptLogsOutput,
  CreateExecutionInput,
  ExecutionDetailSchema,
  ExecutionIdInput,
  ExecutionSchema,
  ExecutionSummarySchema,
  ListExecutionsInput,
  NodeExecutionSchema,
  WatchListInput,
} from "../executions.js";
import { NodeRefInput } from "../sessions.js";
import { eventType } from "./procedure.js";
import { mutation, query, subscription } from "./access.js";

export const executionProcedures = {
  create: mutation("user", { input: CreateExecutionInput, output: ExecutionSchema }),
  /** Newest first, as summaries: inputs and result as a preview and a size (`get` has them whole). */
  list: query("user", { input: ListExecutionsInput, output: z.array(ExecutionSummarySchema) }),
  get: query("user", { input: ExecutionIdInput, output: ExecutionDetailSchema }),
  /** One node with its attempts and sessions, for a task pane that follows it. */
  node: query("user", { input: NodeRefInput, output: NodeExecutionSchema }),
  abort: mutation("user", { input: ExecutionIdInput, output: ExecutionSchema }),
  /** A new execution re-running one node of a past one interactively, with the inputs it had. */
  debug: mutation("user", { input: NodeRefInput, output: ExecutionSchema }),
  logs: query("user", { input: AttemptLogsInput, output: AttemptLogsOutput }),
  /** The execution as a snapshot, then its changes as they happen. */
  watch: subscription("user", { input: ExecutionIdInput, event: eventType<ExecutionEvent>() }),
  /** The project's executions as they start and change status (the console's list). */
  watchList: subscription("user", {
    input: WatchListInput,
    event: eventType<ExecutionListEvent>(),
  }),
  /** An attempt's log from an offset, then as it grows, until the attempt ends. */
  tailLogs: subscription("user", { input: AttemptLogsInput, event: eventType<LogChunk>() }),
};
