import { createHash } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";

import type { AttemptAssignment, ErrorInfo, JsonValue, WorkflowSpec } from "@drydock/contracts";
import { jsonLimitProblem, nodeUpstream } from "@drydock/contracts";

import type { LocalBlobStore } from "../blobs/blob-store.js";
import type { BlobUrlSigner } from "../blobs/signing.js";
import type { Db } from "../db/database.js";
import { ServerErrors } from "../errors.js";
import type { Logger } from "../logger.js";
import type { EventBus } from "./event-bus.js";
import { pausesBefore } from "./pause-points.js";
import type { Scheduler } from "./scheduler.js";
import { bundleKey } from "./workflows.js";

const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
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

  private async attempt(attemptId: string) {
    const attempt = await this.deps.db
      .selectFrom("attempts")
      .selectAll()
      .where("id", "=", attemptId)
      .executeTakeFirst();
    if (!attempt) throw ServerErrors.attemptNotFound(attemptId);
    return attempt;
  }

  outputsKey(executionId: string, nodeId: string, number: number): string {
    return `${nodeKey(executionId, nodeId)}/attempts/${number}/outputs.json`;
  }

  async assignment(attemptId: string): Promise<AttemptAssignment> {
    // One query for the attempt, its node and its execution: this runs once per fan-out element.
    const row = await this.deps.db
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
      .executeTakeFirst();
    if (!row) throw ServerErrors.attemptNotFound(attemptId);
    if (row.status !== "QUEUED" && row.status !== "RUNNING")
      throw ServerErrors.attemptEnded(attemptId, row.status);
    // A debug run's task is the registered one made interactive.
    const version = await this.deps.scheduler.workflowOf(row);
    const task = version.tasks.get(row.task);
    if (!task) throw ServerErrors.workflowNotFound(row.project, row.workflow, row.version);
    // The node's inputs as resolved from upstream, kept as a blob so an interactive session can reload them.
    const inputsKey = `${nodeKey(row.execution_id, row.node_id)}/inputs.json`;
    await this.deps.blobs.write(
      inputsKey,
      Buffer.from(JSON.stringify(row.inputs ?? {})),
      MAX_OUTPUT_BYTES,
    );
    return {
      attemptId,
      executionId: row.execution_id,
      nodeId: row.node_id,
      attemptNumber: row.number,
      task,
      bundle: {
        sha256: version.bundle,
        url: this.deps.signer.signPath("get", bundleKey(version.bundle), 3_600),
        entry: version.entry,
      },
      inputsUrl: this.deps.signer.signPath("get", inputsKey, 3_600),
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

  async log(attemptId: string, lines: { stream: string; text: string }[]): Promise<void> {
    if (lines.length === 0) return;
    const text = lines.map((l) => (l.text.endsWith("\n") ? l.text : `${l.text}\n`)).join("");
    try {
      await appendFile(join(this.deps.logsDir, `${attemptId}.log`), text);
    } catch (error) {
      // The lines are gone either way; what must not be lost is that they were (`drydock logs` says so).
      await this.logLost(attemptId, lines.length, error);
      return;
    }
    this.deps.bus.publishLog(attemptId);
  }

  /** Records on the attempt that `count` of its log lines could not be stored; the first reason is kept. */
  private async logLost(attemptId: string, count: number, error: unknown): Promise<void> {
    const reason = `the server could not write ${join(this.deps.logsDir, `${attemptId}.log`)}: ${error instanceof Error ? error.message : String(error)}`;
    await this.deps.db
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

  async complete(attemptId: string, outputsSha256: string): Promise<void> {
    const attempt = await this.attempt(attemptId);
    const key = this.outputsKey(attempt.execution_id, attempt.node_id, attempt.number);
    const bytes = await this.deps.blobs.readBuffer(key).catch(() => undefined);
    if (!bytes) throw ServerErrors.outputsMissing(attemptId);
    if (createHash("sha256").update(bytes).digest("hex") !== outputsSha256)
      throw ServerErrors.outputsMismatch(attemptId);
    const outputs = JSON.parse(bytes.toString("utf8")) as JsonValue;
    const problem = jsonLimitProblem("outputs", outputs);
    if (problem) throw ServerErrors.outputsOverLimit(attemptId, problem);
    await this.deps.scheduler.attemptSucceeded(attemptId, outputsSha256, outputs);
  }

  async fail(attemptId: string, error: ErrorInfo): Promise<void> {
    await this.deps.scheduler.attemptFailed(attemptId, "FAILED", error);
  }
}
