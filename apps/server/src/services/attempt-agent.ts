import { createHash } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";

import type {
  AttemptAssignment,
  AttemptStatus,
  ErrorInfo,
  JsonValue,
  WorkflowSpec,
} from "@drydock/contracts";
import {
  INLINE_JSON_BYTES,
  jsonLimitProblem,
  nodeUpstream,
  TERMINAL_ATTEMPT_STATUSES,
} from "@drydock/contracts";

import type { LocalBlobStore } from "../blobs/blob-store.js";
import type { BlobUrlSigner } from "../blobs/signing.js";
import type { Db } from "../db/database.js";
import { ServerErrors } from "../errors.js";
import type { Logger } from "../logger.js";
import type { EventBus } from "./event-bus.js";
import { attemptParts } from "./ids.js";
import { pausesBefore } from "./pause-points.js";
import type { AssignmentSource } from "./scheduler/successes.js";
import type { Scheduler } from "./scheduler.js";
import { bundleKey } from "./workflows.js";

const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** A line of the task's log, as the agent sends it. */
type LogLine = { stream: string; text: string };
/** An attempt handed over to a warm agent: its token and assignment. */
export interface HandedOver {
  token: string;
  assignment: AttemptAssignment;
}
/** The nodes (with their tasks) whose outputs feed `nodeId`; a fan-out element is fed as its fan-out is. */
function upstreamOf(spec: WorkflowSpec, nodeId: string): { nodeId: string; task: string }[] {
  const byId = new Map(spec.nodes.map((n) => [n.id, n]));
  const node = byId.get(nodeId.replace(/\[\d+\]$/, ""));
  if (!node) return [];
  return [...nodeUpstream(node)].flatMap((id) => {
    const upstream = byId.get(id);
    return upstream ? [{ nodeId: id, task: upstream.task }] : [];
  });
}

const nodeKey = (executionId: string, nodeId: string) =>
  `executions/${executionId}/nodes/${nodeId}`;

/**
 * The service behind the agent's procedures that are not the scheduler's: an attempt's assignment, its log
 * lines, and the result or failure its agent reports.
 */
export class AttemptAgentService {
  constructor(
    private readonly deps: {
      db: Db;
      blobs: LocalBlobStore;
      signer: BlobUrlSigner;
      scheduler: Scheduler;
      /** Where attempt logs are appended; created at start-up. */
      logsDir: string;
      /** Told when an attempt's log grows, for those following it. */
      bus: EventBus;
      /** Where browsers reach this server (for the console links agents show). */
      publicUrl: () => string;
      /** Where a failure to store log lines is reported (it is recorded on the attempt regardless). */
      log?: Logger;
    },
  ) {}

  outputsKey(executionId: string, nodeId: string, number: number): string {
    return `${nodeKey(executionId, nodeId)}/attempts/${number}/outputs.json`;
  }

  async assignment(attemptId: string, source?: AssignmentSource): Promise<AttemptAssignment> {
    // One query for the attempt, its node and its execution (none when a hand-over read them already).
    const row =
      source ??
      (await this.deps.db
        .selectFrom("attempts as a")
        .innerJoin("node_executions as n", (j) =>
          j.onRef("n.execution_id", "=", "a.execution_id").onRef("n.node_id", "=", "a.node_id"),
        )
        .innerJoin("executions as x", "x.id", "a.execution_id")
        .select([
          "a.status",
          "a.number",
          "a.node_id",
          "n.task",
          "n.inputs",
          "x.id as execution_id",
          "x.project",
          "x.workflow",
          "x.version",
          "x.debug_of",
          "x.pause_before",
        ])
        .where("a.id", "=", attemptId)
        .executeTakeFirst());
    if (!row) throw ServerErrors.attemptNotFound(attemptId);
    if (row.status !== "QUEUED" && row.status !== "RUNNING")
      throw ServerErrors.attemptEnded(attemptId, row.status);
    // A debug run's task is the registered one made interactive.
    const version = await this.deps.scheduler.workflowOf(row);
    const task = version.tasks.get(row.task);
    if (!task) throw ServerErrors.workflowNotFound(row.project, row.workflow, row.version);
    // The node's inputs as resolved from upstream: in the assignment when small, else as a blob to fetch.
    const inputs = (row.inputs ?? {}) as Record<string, JsonValue>;
    const inputsJson = Buffer.from(JSON.stringify(inputs));
    const inline = inputsJson.length <= INLINE_JSON_BYTES;
    const inputsKey = `${nodeKey(row.execution_id, row.node_id)}/inputs.json`;
    if (!inline) await this.deps.blobs.write(inputsKey, inputsJson, MAX_OUTPUT_BYTES);
    return {
      attemptId,
      ...(inline ? { inputs } : { inputsUrl: this.deps.signer.signPath("get", inputsKey, 3_600) }),
      executionId: row.execution_id,
      nodeId: row.node_id,
      attemptNumber: row.number,
      task,
      bundle: {
        sha256: version.bundle,
        url: this.deps.signer.signPath("get", bundleKey(version.bundle), 3_600),
        entry: version.entry,
      },
      workflow: { name: row.workflow, version: row.version },
      upstream: upstreamOf(version.spec, row.node_id),
      consoleUrl: `${this.deps.publicUrl()}/executions/${row.execution_id}?node=${encodeURIComponent(row.node_id)}`,
      outputsUploadUrl: this.deps.signer.signPath(
        "put",
        this.outputsKey(row.execution_id, row.node_id, row.number),
        7 * 24 * 3_600,
      ),
      ...(pausesBefore(row.pause_before, row.node_id) ? { pauseBefore: true } : {}),
    };
  }

  /** Appends the lines to the attempt's log; `q` records a loss (a transaction that holds the attempt's row). */
  async log(attemptId: string, lines: LogLine[], q: Db = this.deps.db): Promise<void> {
    if (lines.length === 0) return;
    const text = lines.map((l) => (l.text.endsWith("\n") ? l.text : `${l.text}\n`)).join("");
    try {
      await appendFile(join(this.deps.logsDir, `${attemptId}.log`), text);
    } catch (error) {
      // The lines are gone either way; what must not be lost is that they were (`drydock logs` says so).
      await this.logLost(q, attemptId, lines.length, error);
      return;
    }
    this.deps.bus.publishLog(attemptId);
  }

  /** Records on the attempt that `count` of its log lines could not be stored; the first reason is kept. */
  private async logLost(q: Db, attemptId: string, count: number, error: unknown): Promise<void> {
    const reason = `the server could not write ${join(this.deps.logsDir, `${attemptId}.log`)}: ${error instanceof Error ? error.message : String(error)}`;
    await q
      .updateTable("attempts")
      .set((eb) => ({
        log_lost_lines: eb("log_lost_lines", "+", count),
        log_lost_reason: eb.fn.coalesce("log_lost_reason", eb.val(reason)),
      }))
      .where("id", "=", attemptId)
      .execute();
    this.deps.log?.error(
      { attemptId, lines: count, err: error },
      "task log lines could not be stored",
    );
  }

  /**
   * Records the attempt's output: carried in the call (`outputsJson`) or uploaded before (`outputsUploadUrl`),
   * with the task's last log lines. With `next`, answers what `agent.next` would: the execution's next queued
   * attempt for this warm agent, handed over in the same transaction.
   */
  async complete(
    attemptId: string,
    input: { outputsSha256: string; outputsJson?: string; lines?: LogLine[]; next?: boolean },
  ): Promise<HandedOver | null> {
    const outputs = await this.reportedOutputs(attemptId, input);
    const { lines } = input;
    const next = await this.deps.scheduler.attemptSucceeded(
      attemptId,
      input.outputsSha256,
      outputs,
      {
        handOver: input.next === true,
        // The agent's token ends with its attempt (agent-access.ts): a report after another end is refused so.
        ended: (status) => ServerErrors.agentTokenEnded(attemptId, status, "complete"),
        // A report retried (its answer lost) delivered its lines the first time. The transaction holds the
        // attempt's row: a loss is recorded in it.
        ...(lines ? { whenRecorded: (tx) => this.log(attemptId, lines, tx) } : {}),
      },
    );
    return (
      next && {
        token: next.token,
        assignment: await this.assignment(next.attemptId, next.assignment),
      }
    );
  }

  /**
   * The output a success's report stands for: carried in the call, or uploaded to the attempt's blob (kept in
   * the database either way). A report retried without either, of the output recorded already, stands for
   * that one (null here: a recorded success is not recorded again). Only a report without a valid output
   * reads the attempt's row: one that ended otherwise refuses the token, as every agent call after an end
   * is refused (agent-access.ts); a valid one is admitted in the transaction that records it.
   */
  private async reportedOutputs(
    attemptId: string,
    input: { outputsSha256: string; outputsJson?: string },
  ): Promise<JsonValue> {
    const parts = attemptParts(attemptId);
    if (!parts) throw ServerErrors.attemptNotFound(attemptId);
    const bytes =
      input.outputsJson !== undefined
        ? Buffer.from(input.outputsJson, "utf8")
        : await this.deps.blobs
            .readBuffer(this.outputsKey(parts.executionId, parts.nodeId, parts.number))
            .catch(() => undefined);
    const checked = bytes && checkedOutputs(attemptId, bytes, input.outputsSha256);
    if (checked && !(checked instanceof Error)) return checked.outputs;
    const recorded = await this.deps.db
      .selectFrom("attempts")
      .select(["status", "outputs_sha256"])
      .where("id", "=", attemptId)
      .executeTakeFirst();
    if (!recorded) throw ServerErrors.attemptNotFound(attemptId);
    const retried =
      recorded.status === "SUCCEEDED" && recorded.outputs_sha256 === input.outputsSha256;
    if (!retried && TERMINAL_ATTEMPT_STATUSES.includes(recorded.status as AttemptStatus))
      throw ServerErrors.agentTokenEnded(attemptId, recorded.status, "complete");
    if (checked) throw checked;
    if (retried) return null;
    throw ServerErrors.outputsMissing(attemptId);
  }

  async fail(attemptId: string, error: ErrorInfo): Promise<void> {
    await this.deps.scheduler.attemptFailed(attemptId, "FAILED", error);
  }
}

/** A reported output's bytes, checked against their sha256 and the limits on outputs: the value, or why not. */
function checkedOutputs(
  attemptId: string,
  bytes: Buffer,
  outputsSha256: string,
): { outputs: JsonValue } | Error {
  if (sha256(bytes) !== outputsSha256) return ServerErrors.outputsMismatch(attemptId);
  const outputs = JSON.parse(bytes.toString("utf8")) as JsonValue;
  const problem = jsonLimitProblem("outputs", outputs);
  return problem ? ServerErrors.outputsOverLimit(attemptId, problem) : { outputs };
}
