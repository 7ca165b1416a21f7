/**
 * Agents' success reports, recorded in batches: the reports of one execution that arrive while another batch
 * of it is being recorded share the next transaction (KeyedBatches), and that transaction takes a few
 * statements whatever the batch's size — one per kind of row it changes, not one per attempt. A warm agent's
 * report also hands it the execution's next queued attempt, claimed and recorded started in the same
 * transaction. Under a fan-out's load this is what keeps the execution's lock from being the bottleneck.
 */
import type { JsonValue, TaskSpec } from "@drydock/contracts";
import { sql } from "kysely";

import type { AttemptRow, ExecutionRow, NodeRow } from "../../db/schema.js";
import { ServerErrors } from "../../errors.js";
import { attemptParts, requireExecutionOfAttempt, specNodeId } from "../ids.js";
import { cacheOutputs } from "../reuse.js";
import { KeyedBatches } from "./batches.js";
import type { Pending } from "./batches.js";
import { advance, nodeEvent, setNode } from "./dag.js";
import type { Dispatcher, HandOver } from "./dispatcher.js";
import type { LoadedWorkflow } from "./loaded-workflow.js";
import type { Effects, ExecutionTransactions, Tx } from "./transaction.js";
import type { WorkflowCache } from "./workflow-cache.js";

/** What an agent reported of an attempt that succeeded. */
export interface SuccessReport {
  id: string;
  outputsSha256: string;
  outputs: JsonValue;
  /**
   * `handOver`: the warm agent takes the next queued attempt; `whenRecorded` runs in the transaction if the
   * success is new; `ended` is the refusal of a report on an attempt that ended otherwise (default ATTEMPT_ENDED).
   */
  options: {
    handOver?: boolean;
    whenRecorded?: (tx: Tx) => Promise<void>;
    ended?: (status: string) => Error;
  };
}

/** What a success's report recorded, and the attempt it handed over (with what its assignment is made of). */
export interface SuccessRecorded {
  /** False when the success was recorded before (a report retried): nothing is handed over then. */
  recorded: boolean;
  next: HandOver | null;
  assignment?: AssignmentSource;
}

/** What an attempt's assignment is made of: the attempt, its node and its execution. */
export type AssignmentSource = Pick<AttemptRow, "status" | "number" | "node_id"> &
  Pick<NodeRow, "task" | "inputs"> &
  Pick<ExecutionRow, "project" | "workflow" | "version" | "debug_of" | "pause_before"> & {
    execution_id: string;
  };

/** A report that records a success now, and its place in the batch. */
interface Recording {
  index: number;
  report: SuccessReport;
  attempt: AttemptRow;
}

export class Successes {
  private readonly batches = new KeyedBatches<SuccessReport, SuccessRecorded>(
    (executionId, batch) => this.record(executionId, batch),
  );

  constructor(
    private readonly deps: {
      workflows: WorkflowCache;
      transactions: ExecutionTransactions;
      slots: Pick<Dispatcher, "claimNextWithin" | "handedOver" | "putBack">;
      /** Records an attempt started the slow way (its node's status, its deadline), when a claim could not. */
      started: (
        tx: Tx,
        exec: ExecutionRow,
        fx: Effects,
        attempt: HandOver["row"],
        pid: number,
      ) => Promise<void>;
    },
  ) {}

  /** Records the success (see SuccessRecorded); settles once its batch's transaction has committed. */
  report(report: SuccessReport): Promise<SuccessRecorded> {
    return this.batches.add(requireExecutionOfAttempt(report.id), report);
  }

  private async record(
    executionId: string,
    batch: Pending<SuccessReport, SuccessRecorded>[],
  ): Promise<void> {
    const results = batch.map((): SuccessRecorded => ({ recorded: false, next: null }));
    const refusals = new Map<number, Error>();
    try {
      await this.deps.transactions.transact(executionId, async (tx, exec, fx) => {
        const recording = await admit(
          tx,
          batch.map((p) => p.item),
          refusals,
        );
        if (recording.length === 0) return;
        for (const r of recording) (results[r.index] as SuccessRecorded).recorded = true;
        await Promise.all(
          recording.map((r) => r.report.options.whenRecorded?.(tx) ?? Promise.resolve()),
        );
        const at = { exec, fx, loaded: await this.deps.workflows.workflowOf(exec, tx) };
        const wanting =
          exec.status === "RUNNING" ? recording.filter((r) => r.report.options.handOver) : [];
        const started = await this.handOver(tx, at, wanting, results);
        await this.succeed(tx, at, recording, started, results);
        // Agents left without, when the DAG moved on to a fan-out, take its first elements: a warm agent is
        // not let go while the elements it could run are being made.
        const left = wanting.filter((r) => !(results[r.index] as SuccessRecorded).next);
        if (left.length > 0 && fx.dispatch.some(isElement))
          await this.handOverMade(tx, at, left, results);
      });
    } catch (error) {
      for (const result of results) if (result.next) this.deps.slots.putBack(result.next);
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const [i, pending] of batch.entries()) {
      const refusal = refusals.get(i);
      if (refusal) {
        pending.reject(refusal);
        continue;
      }
      const result = results[i] as SuccessRecorded;
      if (result.next) await this.deps.slots.handedOver(pending.item.id, result.next);
      pending.resolve(result);
    }
  }

  /**
   * Claims the execution's next queued attempts for the reports' warm agents (recorded started in the same
   * statement, when the task's deadline is known); returns those whose nodes `succeed` marks RUNNING.
   */
  private async handOver(
    tx: Tx,
    at: { exec: ExecutionRow; fx: Effects; loaded: LoadedWorkflow },
    wanting: Recording[],
    results: SuccessRecorded[],
    fresh?: string[],
  ): Promise<Started[]> {
    if (wanting.length === 0) return [];
    const { exec, fx, loaded } = at;
    const now = new Date();
    const claims = await this.deps.slots.claimNextWithin(
      tx,
      wanting.map((r) => r.attempt),
      (attemptId) => {
        // The task, from the node the id names: it sets the deadline, which the claim records.
        const nodeId = attemptParts(attemptId)?.nodeId;
        const task = nodeId ? taskOfNode(loaded, nodeId) : undefined;
        return task && { status: "RUNNING", started_at: now, deadline_at: deadline(now, task) };
      },
      fresh,
    );
    const started: Started[] = [];
    for (const [i, next] of claims.entries()) {
      const index = (wanting[i] as Recording).index;
      (results[index] as SuccessRecorded).next = next;
      if (!next || next.agent.pid === null) continue;
      if (next.started) started.push({ index, next });
      else await this.deps.started(tx, exec, fx, next.row, next.agent.pid);
    }
    return started;
  }

  /**
   * The second hand-over, of fan-out elements this transaction queued (`fx.dispatch`) to the agents the
   * first left without: claimed, recorded as handed over, their nodes started — two statements, when a
   * fan-out starts. Only elements: a node outside a fan-out that the report made ready is launched as
   * before, with an agent of its own (named for its attempt in the process table).
   */
  private async handOverMade(
    tx: Tx,
    at: { exec: ExecutionRow; fx: Effects; loaded: LoadedWorkflow },
    left: Recording[],
    results: SuccessRecorded[],
  ): Promise<void> {
    const { exec, fx } = at;
    const fresh = fx.dispatch.filter(isElement);
    const started = await this.handOver(tx, at, left, results, fresh);
    const handed = left.flatMap((r) => {
      const next = (results[r.index] as SuccessRecorded).next;
      return next ? [{ from: r.attempt.id, to: next.attemptId }] : [];
    });
    if (handed.length === 0) return;
    // Claimed here, they are not queued again once the transaction commits (kept in place: a fan-out may
    // queue more ids than a call's arguments can spread).
    const claimed = new Set(handed.map((h) => h.to));
    let kept = 0;
    for (const id of fx.dispatch) if (!claimed.has(id)) fx.dispatch[kept++] = id;
    fx.dispatch.length = kept;
    const { rows } = await sql<ChangedNode>`
      with handed as (
        update attempts as a set handed_to = v.handed_to
        from (values ${sql.join(handed.map((h) => sql`(${h.from}, ${h.to})`))}) as v(id, handed_to)
        where a.id = v.id and a.id in (${sql.join(handed.map((h) => h.from))})
      ), started as (${startNodes(exec.id, started, new Date())})
      select 'started' as kind, node_id, null as parent_node_id, task, inputs, null::text as status,
        null::integer as children_done, null::integer as children_total from started`.execute(tx);
    this.assign(exec, fx, started, rows, results);
  }

  /** The assignments of the attempts handed over and started: their nodes' task and inputs, from `rows`. */
  private assign(
    exec: ExecutionRow,
    fx: Effects,
    started: Started[],
    rows: ChangedNode[],
    results: SuccessRecorded[],
  ): void {
    const nodes = new Map(
      rows.filter((row) => row.kind === "started").map((row) => [row.node_id, row]),
    );
    for (const { index, next } of started) {
      const node = nodes.get(next.row.node_id);
      if (!node) throw ServerErrors.attemptNotFound(next.attemptId);
      fx.events.push(nodeEvent(exec.id, next.row.node_id, "RUNNING", next.row.number));
      (results[index] as SuccessRecorded).assignment = {
        status: "RUNNING",
        number: next.row.number,
        node_id: next.row.node_id,
        task: node.task ?? "",
        inputs: node.inputs,
        execution_id: exec.id,
        project: exec.project,
        workflow: exec.workflow,
        version: exec.version,
        debug_of: exec.debug_of,
        pause_before: exec.pause_before,
      };
    }
  }

  /**
   * In one statement: the attempts succeed (handed over where they were), their sessions end, their nodes
   * succeed, their fan-outs count them, and the nodes of the attempts handed over start. Then fan-outs whose
   * last elements these were gather, and the DAG moves on.
   */
  private async succeed(
    tx: Tx,
    at: { exec: ExecutionRow; fx: Effects; loaded: LoadedWorkflow },
    recording: Recording[],
    started: Started[],
    results: SuccessRecorded[],
  ): Promise<void> {
    const { exec, fx, loaded } = at;
    const now = new Date();
    // Each part also names its rows' keys (`in`): the planner then reads them by index, not by a scan.
    const ids = sql.join(recording.map((r) => r.attempt.id));
    const nodeIds = sql.join(recording.map((r) => r.attempt.node_id));
    const attempts = recording.map(
      (r) =>
        sql`(${r.attempt.id}, ${r.report.outputsSha256}, ${(results[r.index] as SuccessRecorded).next?.attemptId ?? null})`,
    );
    const outputs = recording.map(
      (r) => sql`(${r.attempt.node_id}, ${JSON.stringify(r.report.outputs)})`,
    );
    const { rows } = await sql<ChangedNode>`
      with finished as (
        update attempts as a set status = 'SUCCEEDED', outputs_sha256 = v.sha, ended_at = ${now},
          handed_to = coalesce(v.handed_to, a.handed_to)
        from (values ${sql.join(attempts)}) as v(id, sha, handed_to)
        where a.id = v.id and a.id in (${ids})
        returning a.id
      ), sessions as (
        update interactive_sessions set state = 'ENDED', end_reason = 'resumed', ended_at = ${now}
        where attempt_id in (${ids}) and state <> 'ENDED'
        returning attempt_id
      ), done as (
        update node_executions as n set status = 'SUCCEEDED', ended_at = ${now}, outputs = v.outputs::json
        from (values ${sql.join(outputs)}) as v(node_id, outputs)
        where n.execution_id = ${exec.id} and n.node_id = v.node_id and n.node_id in (${nodeIds})
        returning n.node_id, n.parent_node_id, n.task
      ), parents as (
        update node_executions as p set children_done = p.children_done + c.count
        from (select parent_node_id, count(*)::integer as count from done
          where parent_node_id is not null group by parent_node_id) as c
        where p.execution_id = ${exec.id} and p.node_id = c.parent_node_id
        returning p.node_id, p.status, p.children_done, p.children_total
      ), started as (${startNodes(exec.id, started, now)})
      select 'done' as kind, node_id, parent_node_id, task, null::json as inputs, null::text as status,
        null::integer as children_done, null::integer as children_total from done
      union all select 'parent', node_id, null, null, null, status, children_done, children_total from parents
      union all select 'started', node_id, null, task, inputs, null, null, null from started`.execute(
      tx,
    );

    const byKind = (kind: ChangedNode["kind"]) =>
      new Map(rows.filter((row) => row.kind === kind).map((row) => [row.node_id, row]));
    this.assign(exec, fx, started, rows, results);
    const done = byKind("done");
    let moved = false;
    for (const r of recording) {
      const node = done.get(r.attempt.node_id);
      if (!node) throw ServerErrors.attemptNotFound(r.attempt.id);
      fx.events.push(nodeEvent(exec.id, r.attempt.node_id, "SUCCEEDED", r.attempt.number));
      await cacheOutputs(
        tx,
        loaded,
        exec,
        { node_id: r.attempt.node_id, task: node.task ?? "" },
        { id: r.attempt.id, outputsSha256: r.report.outputsSha256 },
        r.report.outputs,
      );
      if (node.parent_node_id === null) moved = true;
    }
    // Fan-outs whose last elements these were gather the elements' outputs, in order, into their own.
    for (const parent of byKind("parent").values()) {
      if (parent.status !== "RUNNING" || (parent.children_done ?? 0) < (parent.children_total ?? 0))
        continue;
      const children = await tx
        .selectFrom("node_executions")
        .select("outputs")
        .where("execution_id", "=", exec.id)
        .where("parent_node_id", "=", parent.node_id)
        .orderBy("map_index")
        .execute();
      await setNode(tx, fx, exec.id, parent, "SUCCEEDED", {
        outputs: children.map((c) => c.outputs as JsonValue),
      });
      moved = true;
    }
    if (moved) await advance(this.deps.workflows, tx, exec, fx);
  }
}

/** Whether an attempt is a fan-out element's (`x1.n2[3].a1`). */
function isElement(attemptId: string): boolean {
  const nodeId = attemptParts(attemptId)?.nodeId;
  return nodeId !== undefined && specNodeId(nodeId) !== nodeId;
}

/** The statement (a CTE's part) that starts the nodes of the attempts handed over, returning their task and inputs. */
function startNodes(executionId: string, started: Started[], now: Date) {
  return started.length > 0
    ? sql`update node_executions as n set status = 'RUNNING', started_at = coalesce(n.started_at, ${now})
        where n.execution_id = ${executionId}
          and n.node_id in (${sql.join(started.map((s) => s.next.row.node_id))})
        returning n.node_id, n.task, n.inputs`
    : sql`select null::text as node_id, null::text as task, null::json as inputs where false`;
}

/** A node the success statement changed: an attempt's (done), a fan-out's (parent), a handed-over attempt's (started). */
interface ChangedNode {
  kind: "done" | "parent" | "started";
  node_id: string;
  parent_node_id: string | null;
  task: string | null;
  inputs: NodeRow["inputs"];
  status: string | null;
  children_done: number | null;
  children_total: number | null;
}

/** An attempt handed over and claimed started: its node starts in the success statement. */
interface Started {
  index: number;
  next: HandOver;
}

/**
 * Locks the reports' attempts and keeps those that record a success now. A report of a success recorded before, with the same outputs (retried, its answer lost), records
 * nothing and is answered as such; a report on an attempt that ended otherwise, or is unknown, is refused (in
 * `refusals`, by its place in the batch).
 */
async function admit(
  tx: Tx,
  reports: SuccessReport[],
  refusals: Map<number, Error>,
): Promise<Recording[]> {
  const rows = await tx
    .selectFrom("attempts")
    .selectAll()
    .where(
      "id",
      "in",
      reports.map((r) => r.id),
    )
    .orderBy("id")
    .forUpdate()
    .execute();
  const attempts = new Map(rows.map((row) => [row.id, row]));
  const recording: Recording[] = [];
  for (const [index, report] of reports.entries()) {
    const attempt = attempts.get(report.id);
    if (!attempt) {
      refusals.set(index, ServerErrors.attemptNotFound(report.id));
      continue;
    }
    if (attempt.status === "SUCCEEDED" && attempt.outputs_sha256 === report.outputsSha256) continue;
    if (attempt.status !== "RUNNING" && attempt.status !== "QUEUED") {
      refusals.set(
        index,
        report.options.ended?.(attempt.status) ??
          ServerErrors.attemptEnded(report.id, attempt.status),
      );
      continue;
    }
    recording.push({ index, report, attempt });
    // The same attempt reported twice in one batch: the second sees the first's success.
    attempts.set(report.id, {
      ...attempt,
      status: "SUCCEEDED",
      outputs_sha256: report.outputsSha256,
    });
  }
  return recording;
}

/** When an attempt of `task` started `now` times out, if it can. */
export function deadline(now: Date, task: TaskSpec): Date | null {
  return task.timeoutSeconds ? new Date(now.getTime() + task.timeoutSeconds * 1000) : null;
}

/** The task a node runs, from the workflow (a fan-out element, `n2[1]`, runs its fan-out's). */
function taskOfNode(loaded: LoadedWorkflow, nodeId: string): TaskSpec | undefined {
  const id = specNodeId(nodeId);
  const node = loaded.spec.nodes.find((n) => n.id === id);
  return node && loaded.tasks.get(node.task);
}
