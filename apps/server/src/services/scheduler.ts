import { createHash, randomBytes } from "node:crypto";

import type { AttemptStatus, ErrorInfo, ExecutionEvent, JsonValue, NodeStatus, SessionEndReason, TaskSpec, WorkflowSpec } from "@drydock/contracts";
import { BindingError, nodeUpstream, resolveBinding, resolveNodeInputs, SESSION_IDLE_CODE, TERMINAL_ATTEMPT_STATUSES } from "@drydock/contracts";
import type { Kysely, Transaction } from "kysely";

import type { Db } from "../db/database.js";
import type { AttemptRow, Database, DebugOf, ExecutionRow, NodeRow } from "../db/schema.js";
import type { ServerConfig } from "../env.js";
import { ServerErrors } from "../errors.js";
import type { AttemptExit, Executor } from "../executor/executor.js";
import type { Logger } from "../logger.js";
import { debugWorkflow } from "./debug-run.js";
import type { EventBus } from "./event-bus.js";
import { attemptId, executionOfAttempt } from "./ids.js";
import { jsonColumns } from "./json-text.js";

type Tx = Transaction<Database>;
type FailureStatus = "FAILED" | "TIMED_OUT" | "LOST";

const ACTIVE_ATTEMPT = ["QUEUED", "RUNNING"] as const;
const ACTIVE_NODE = ["PENDING", "QUEUED", "RUNNING"] as const;

export interface LoadedWorkflow {
  spec: WorkflowSpec;
  tasks: Map<string, TaskSpec>;
  bundle: string;
  entry: string;
}

/** Side effects a transaction decided on, carried out once it has committed. */
interface Effects {
  events: ExecutionEvent[];
  dispatch: string[];
  terminate: string[];
}

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

function errorJson(error: ErrorInfo): string {
  return JSON.stringify(error);
}

/**
 * Walks each execution's DAG: creates attempts for nodes whose upstream succeeded, expands fan-outs,
 * applies retries and timeouts, and finishes executions. Every decision is taken in a transaction that
 * holds the execution's row lock, so concurrent completions and a restarted server never run a node twice.
 */
export class Scheduler {
  private readonly queue: string[] = [];
  private readonly active = new Set<string>();
  private readonly workflows = new Map<string, LoadedWorkflow>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly deps: {
      db: Db;
      executor: Executor;
      bus: EventBus;
      log: Logger;
      config: Pick<ServerConfig, "maxParallel" | "heartbeatTimeoutSeconds" | "lostAttemptRetries">;
    },
  ) {
    deps.executor.onExit((id, exit) => void this.agentExited(id, exit));
  }

  // ---- lifecycle -------------------------------------------------------------------------------------

  /** Adopts agents that outlived a previous server, re-queues what never launched, and resumes every DAG. */
  async start(): Promise<void> {
    const { db, executor, log } = this.deps;
    const open = await db.selectFrom("attempts").selectAll().where("status", "in", ACTIVE_ATTEMPT).execute();
    for (const attempt of open) {
      if (attempt.pid !== null && (await executor.adopt(attempt.id, attempt.pid, attempt.agent ?? attempt.id))) {
        this.active.add(attempt.id);
        await db.updateTable("attempts").set({ heartbeat_at: new Date() }).where("id", "=", attempt.id).execute();
        log.info({ attemptId: attempt.id, pid: attempt.pid }, "adopted a running agent");
      } else if (attempt.pid !== null) {
        await this.attemptFailed(attempt.id, "LOST", {
          code: "AGENT_LOST",
          message: "the agent stopped while the server was down",
        });
      } else {
        this.queue.push(attempt.id);
      }
    }
    await executor.forgetOthers?.();
    const running = await db.selectFrom("executions").select("id").where("status", "=", "RUNNING").execute();
    for (const { id } of running) await this.transact(id, (tx, exec, fx) => this.advance(tx, exec, fx));
    this.sweeper = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((err: unknown) => log.error({ err }, "sweep failed"))
        .finally(() => (this.sweeping = undefined));
    }, 1_000);
    this.pump();
  }

  /** Stops scheduling and ends every agent this server runs (they are re-run after the next start). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    await this.sweeping;
    await this.deps.executor.shutdown();
  }

  // ---- workflow specs --------------------------------------------------------------------------------

  /** The workflow an execution walks: its registered version, or for a debug run the one node it re-runs. */
  async workflowOf(
    exec: Pick<ExecutionRow, "project" | "workflow" | "version" | "debug_of">,
    q: Kysely<Database> = this.deps.db,
  ): Promise<LoadedWorkflow> {
    const base = await this.workflow(exec.project, exec.workflow, exec.version, q);
    const of = exec.debug_of;
    if (!of) return base;
    const key = `${exec.project}/${exec.workflow}/${exec.version}#debug/${of.task}/${of.nodeId}`;
    let debug = this.workflows.get(key);
    if (!debug) this.workflows.set(key, (debug = debugWorkflow(base, of, exec)));
    return debug;
  }

  private async workflow(project: string, name: string, version: string, q: Kysely<Database>): Promise<LoadedWorkflow> {
    const key = `${project}/${name}/${version}`;
    const cached = this.workflows.get(key);
    if (cached) return cached;
    const row = await q
      .selectFrom("workflow_versions")
      .select(["spec", "tasks", "bundle", "entry"])
      .where("project", "=", project)
      .where("name", "=", name)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!row) throw ServerErrors.workflowNotFound(project, name, version);
    const loaded = {
      spec: row.spec as WorkflowSpec,
      tasks: new Map((row.tasks as TaskSpec[]).map((t) => [t.name, t])),
      bundle: row.bundle,
      entry: row.entry,
    };
    this.workflows.set(key, loaded);
    return loaded;
  }

  // ---- transactions ----------------------------------------------------------------------------------

  private async transact<T>(executionId: string, fn: (tx: Tx, exec: ExecutionRow, fx: Effects) => Promise<T>): Promise<T> {
    const fx: Effects = { events: [], dispatch: [], terminate: [] };
    let project = "";
    const result = await this.deps.db.transaction().execute(async (tx) => {
      const exec = await tx.selectFrom("executions").selectAll().where("id", "=", executionId).forUpdate().executeTakeFirst();
      if (!exec) throw ServerErrors.executionNotFound(executionId);
      project = exec.project;
      return fn(tx, exec, fx);
    });
    for (const event of fx.events) this.deps.bus.publish(executionId, event);
    if (fx.events.some((e) => e.type === "execution")) this.deps.bus.publishListChange(project, executionId);
    this.dropFromQueue(fx.terminate);
    await Promise.all(fx.terminate.map((id) => this.deps.executor.terminate(id)));
    this.queue.push(...fx.dispatch);
    this.pump();
    return result;
  }

  /** Creates the execution's nodes and starts the DAG; `debugOf` makes it a debug run of that node. */
  async startExecution(exec: {
    id: string;
    project: string;
    workflow: string;
    version: string;
    inputs: Record<string, JsonValue>;
    debugOf?: DebugOf;
  }): Promise<void> {
    const { debugOf, ...row } = exec;
    const { spec } = await this.workflowOf({ ...row, debug_of: debugOf ?? null });
    const inputs = jsonColumns(exec.inputs);
    await this.deps.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("executions")
        .values({
          ...row,
          status: "RUNNING",
          inputs: inputs.text,
          inputs_bytes: inputs.bytes,
          inputs_preview: inputs.preview,
          debug_of: debugOf ? JSON.stringify(debugOf) : null,
        })
        .execute();
      if (spec.nodes.length > 0) {
        await tx
          .insertInto("node_executions")
          .values(spec.nodes.map((n) => ({ execution_id: exec.id, node_id: n.id, task: n.task, status: "PENDING" })))
          .execute();
      }
    });
    this.deps.bus.publishListChange(exec.project, exec.id);
    await this.transact(exec.id, (tx, row, fx) => this.advance(tx, row, fx));
  }

  /** Decides what can run next, and whether the execution is over. Idempotent. */
  private async advance(tx: Tx, exec: ExecutionRow, fx: Effects): Promise<void> {
    if (exec.status !== "RUNNING") return;
    const { spec } = await this.workflowOf(exec, tx);
    const rows = await tx
      .selectFrom("node_executions")
      .selectAll()
      .where("execution_id", "=", exec.id)
      .where("parent_node_id", "is", null)
      .execute();
    const byId = new Map(rows.map((r) => [r.node_id, r]));
    const inputs = exec.inputs as Record<string, JsonValue>;
    const scope = {
      input: (name: string) => inputs[name],
      node: (id: string) => (byId.get(id)?.outputs ?? undefined) as JsonValue | undefined,
    };

    const failed = rows.find((r) => r.status === "FAILED");
    if (failed) {
      const error = failed.error as ErrorInfo | null;
      await this.finish(tx, exec, fx, "FAILED", {
        error: {
          message: `node ${failed.node_id} (${failed.task}) failed: ${error?.message ?? "unknown error"}`,
          ...(error?.stack ? { stack: error.stack } : {}),
          code: error?.code ?? "NODE_FAILED",
        },
      });
      return;
    }

    for (const node of spec.nodes) {
      const row = byId.get(node.id);
      if (row?.status !== "PENDING") continue;
      if (![...nodeUpstream(node)].every((dep) => byId.get(dep)?.status === "SUCCEEDED")) continue;
      let resolved: Record<string, JsonValue>[];
      try {
        resolved = resolveNodeInputs(node, scope);
      } catch (error) {
        if (!(error instanceof BindingError)) throw error;
        await this.setNode(tx, fx, exec.id, row, "FAILED", { error: { message: error.message, code: "BINDING_FAILED" } });
        return this.advance(tx, exec, fx);
      }
      if (node.kind === "task") {
        const first = resolved[0] ?? {};
        await tx
          .updateTable("node_executions")
          .set({ inputs: JSON.stringify(first) })
          .where("execution_id", "=", exec.id)
          .where("node_id", "=", node.id)
          .execute();
        await this.createAttempt(tx, fx, exec.id, row, 1);
        continue;
      }
      // A fan-out: one child node per element; the parent finishes when its children do.
      await tx
        .updateTable("node_executions")
        .set({ status: "RUNNING", started_at: new Date(), children_total: resolved.length })
        .where("execution_id", "=", exec.id)
        .where("node_id", "=", node.id)
        .execute();
      fx.events.push(this.nodeEvent(exec.id, node.id, "RUNNING"));
      if (resolved.length === 0) {
        await this.setNode(tx, fx, exec.id, row, "SUCCEEDED", { outputs: [] });
        return this.advance(tx, exec, fx);
      }
      await this.expandMap(tx, fx, exec.id, node.id, node.task, resolved);
    }

    const top = await tx
      .selectFrom("node_executions")
      .select(["node_id", "status", "outputs"])
      .where("execution_id", "=", exec.id)
      .where("parent_node_id", "is", null)
      .execute();
    if (top.every((r) => r.status === "SUCCEEDED")) {
      const outputs = new Map(top.map((r) => [r.node_id, r.outputs as JsonValue]));
      try {
        const result = resolveBinding(spec.output, { input: scope.input, node: (id) => outputs.get(id) });
        await this.finish(tx, exec, fx, "SUCCEEDED", { result });
      } catch (error) {
        if (!(error instanceof BindingError)) throw error;
        await this.finish(tx, exec, fx, "FAILED", { error: { message: error.message, code: "BINDING_FAILED" } });
      }
    }
  }

  private async expandMap(
    tx: Tx,
    fx: Effects,
    executionId: string,
    parentId: string,
    task: string,
    elements: Record<string, JsonValue>[],
  ): Promise<void> {
    const children = elements.map((inputs, index) => ({ nodeId: `${parentId}[${index}]`, inputs, index }));
    for (let i = 0; i < children.length; i += 1_000) {
      const chunk = children.slice(i, i + 1_000);
      await tx
        .insertInto("node_executions")
        .values(
          chunk.map((c) => ({
            execution_id: executionId,
            node_id: c.nodeId,
            task,
            parent_node_id: parentId,
            map_index: c.index,
            status: "QUEUED",
            inputs: JSON.stringify(c.inputs),
          })),
        )
        .execute();
      await tx
        .insertInto("attempts")
        .values(chunk.map((c) => ({ id: attemptId(executionId, c.nodeId, 1), execution_id: executionId, node_id: c.nodeId, number: 1, status: "QUEUED" })))
        .execute();
      for (const c of chunk) {
        fx.dispatch.push(attemptId(executionId, c.nodeId, 1));
        fx.events.push(this.nodeEvent(executionId, c.nodeId, "QUEUED", 1));
      }
    }
  }

  /** `after`: why the previous attempt ended, carried on the retry's QUEUED event. */
  private async createAttempt(tx: Tx, fx: Effects, executionId: string, node: NodeRow, number: number, after?: ErrorInfo): Promise<void> {
    const id = attemptId(executionId, node.node_id, number);
    await tx.insertInto("attempts").values({ id, execution_id: executionId, node_id: node.node_id, number, status: "QUEUED" }).execute();
    await tx
      .updateTable("node_executions")
      .set({ status: "QUEUED" })
      .where("execution_id", "=", executionId)
      .where("node_id", "=", node.node_id)
      .execute();
    fx.dispatch.push(id);
    fx.events.push({ ...this.nodeEvent(executionId, node.node_id, "QUEUED", number), ...(after ? { error: after } : {}) });
  }

  /**
   * Ends the live interactive sessions of attempts that ended, saying why. An agent that ended its session
   * itself first (idle, say) keeps its own reason: only sessions not yet ENDED change.
   */
  private async endSessions(tx: Tx, attemptIds: string[], reason: SessionEndReason): Promise<void> {
    if (attemptIds.length === 0) return;
    await tx
      .updateTable("interactive_sessions")
      .set({ state: "ENDED", end_reason: reason, ended_at: new Date() })
      .where("attempt_id", "in", attemptIds)
      .where("state", "<>", "ENDED")
      .execute();
  }

  private async setNode(
    tx: Tx,
    fx: Effects,
    executionId: string,
    node: Pick<NodeRow, "node_id">,
    status: "SUCCEEDED" | "FAILED",
    values: { outputs?: JsonValue; error?: ErrorInfo; attempt?: number },
  ): Promise<Pick<NodeRow, "parent_node_id">> {
    const row = await tx
      .updateTable("node_executions")
      .set({
        status,
        ended_at: new Date(),
        ...(values.outputs !== undefined ? { outputs: JSON.stringify(values.outputs) } : {}),
        ...(values.error ? { error: errorJson(values.error) } : {}),
      })
      .where("execution_id", "=", executionId)
      .where("node_id", "=", node.node_id)
      .returning("parent_node_id")
      .executeTakeFirstOrThrow();
    fx.events.push({ ...this.nodeEvent(executionId, node.node_id, status, values.attempt), ...(values.error ? { error: values.error } : {}) });
    return row;
  }

  private async finish(
    tx: Tx,
    exec: ExecutionRow,
    fx: Effects,
    status: "SUCCEEDED" | "FAILED" | "ABORTED",
    values: { result?: JsonValue; error?: ErrorInfo },
  ): Promise<void> {
    const result = values.result !== undefined ? jsonColumns(values.result) : undefined;
    await tx
      .updateTable("executions")
      .set({
        status,
        ended_at: new Date(),
        ...(result ? { result: result.text, result_bytes: result.bytes, result_preview: result.preview } : {}),
        ...(values.error ? { error: errorJson(values.error) } : {}),
      })
      .where("id", "=", exec.id)
      .execute();
    if (status !== "SUCCEEDED") {
      // Nothing else of this execution may run on: end the nodes and attempts still open.
      const ended = await tx
        .updateTable("attempts")
        .set({ status: "ABORTED", ended_at: new Date() })
        .where("execution_id", "=", exec.id)
        .where("status", "in", ACTIVE_ATTEMPT)
        .returning("id")
        .execute();
      fx.terminate.push(...ended.map((a) => a.id));
      await this.endSessions(
        tx,
        ended.map((a) => a.id),
        status === "ABORTED" ? "aborted" : "failed",
      );
      const nodes = await tx
        .updateTable("node_executions")
        .set({ status: status === "ABORTED" ? "ABORTED" : "SKIPPED", ended_at: new Date() })
        .where("execution_id", "=", exec.id)
        .where("status", "in", ACTIVE_NODE)
        .returning(["node_id", "status"])
        .execute();
      for (const n of nodes) fx.events.push(this.nodeEvent(exec.id, n.node_id, n.status as "ABORTED" | "SKIPPED"));
    }
    fx.events.push({
      type: "execution",
      executionId: exec.id,
      status,
      at: new Date().toISOString(),
      ...(values.result !== undefined ? { result: values.result } : {}),
      ...(values.error ? { error: values.error } : {}),
    });
  }

  private nodeEvent(executionId: string, nodeId: string, status: NodeStatus, attempt?: number): ExecutionEvent & { type: "node" } {
    return { type: "node", executionId, nodeId, status, at: new Date().toISOString(), ...(attempt ? { attempt } : {}) };
  }

  // ---- attempts --------------------------------------------------------------------------------------

  private async openAttempt(tx: Tx, id: string): Promise<AttemptRow> {
    const attempt = await tx.selectFrom("attempts").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
    if (!attempt) throw ServerErrors.attemptNotFound(id);
    return attempt;
  }

  async attemptStarted(id: string, pid: number): Promise<void> {
    const executionId = this.executionOf(id);
    await this.transact(executionId, async (tx, exec, fx) => {
      const attempt = await this.openAttempt(tx, id);
      if (attempt.status === "RUNNING") return;
      if (attempt.status !== "QUEUED") throw ServerErrors.attemptEnded(id, attempt.status);
      const now = new Date();
      const node = await tx
        .updateTable("node_executions")
        .set((eb) => ({ status: "RUNNING", started_at: eb.fn.coalesce("started_at", eb.val(now)) }))
        .where("execution_id", "=", executionId)
        .where("node_id", "=", attempt.node_id)
        .returning("task")
        .executeTakeFirstOrThrow();
      const task = (await this.workflowOf(exec, tx)).tasks.get(node.task);
      await tx
        .updateTable("attempts")
        .set({
          status: "RUNNING",
          pid,
          started_at: now,
          heartbeat_at: now,
          deadline_at: task?.timeoutSeconds ? new Date(now.getTime() + task.timeoutSeconds * 1000) : null,
        })
        .where("id", "=", id)
        .execute();
      fx.events.push(this.nodeEvent(executionId, attempt.node_id, "RUNNING", attempt.number));
    });
  }

  async heartbeat(id: string): Promise<boolean> {
    const row = await this.deps.db
      .updateTable("attempts")
      .set({ heartbeat_at: new Date() })
      .where("id", "=", id)
      .where("status", "in", ACTIVE_ATTEMPT)
      .returning("id")
      .executeTakeFirst();
    return row !== undefined;
  }

  async attemptSucceeded(id: string, outputsSha256: string, outputs: JsonValue): Promise<void> {
    const executionId = this.executionOf(id);
    await this.transact(executionId, async (tx, exec, fx) => {
      const attempt = await this.openAttempt(tx, id);
      if (attempt.status === "SUCCEEDED" && attempt.outputs_sha256 === outputsSha256) return;
      if (attempt.status !== "RUNNING" && attempt.status !== "QUEUED") throw ServerErrors.attemptEnded(id, attempt.status);
      await tx
        .updateTable("attempts")
        .set({ status: "SUCCEEDED", outputs_sha256: outputsSha256, ended_at: new Date() })
        .where("id", "=", id)
        .execute();
      await this.endSessions(tx, [id], "resumed");
      const node = await this.setNode(tx, fx, executionId, { node_id: attempt.node_id }, "SUCCEEDED", { outputs, attempt: attempt.number });
      if (node.parent_node_id === null) return this.advance(tx, exec, fx);
      const parent = await tx
        .updateTable("node_executions")
        .set((eb) => ({ children_done: eb("children_done", "+", 1) }))
        .where("execution_id", "=", executionId)
        .where("node_id", "=", node.parent_node_id)
        .returning(["node_id", "status", "children_done", "children_total"])
        .executeTakeFirstOrThrow();
      if (parent.status !== "RUNNING" || parent.children_done < (parent.children_total ?? 0)) return;
      const children = await tx
        .selectFrom("node_executions")
        .select("outputs")
        .where("execution_id", "=", executionId)
        .where("parent_node_id", "=", parent.node_id)
        .orderBy("map_index")
        .execute();
      await this.setNode(tx, fx, executionId, parent, "SUCCEEDED", { outputs: children.map((c) => c.outputs as JsonValue) });
      return this.advance(tx, exec, fx);
    });
  }

  /** Records a failed attempt and either retries the node or fails it (and with it, the execution). */
  async attemptFailed(id: string, status: FailureStatus, error: ErrorInfo): Promise<void> {
    const executionId = this.executionOf(id);
    await this.transact(executionId, async (tx, exec, fx) => {
      const attempt = await this.openAttempt(tx, id);
      if (attempt.status !== "RUNNING" && attempt.status !== "QUEUED") return;
      await tx
        .updateTable("attempts")
        .set({ status, error: errorJson(error), ended_at: new Date() })
        .where("id", "=", id)
        .execute();
      const idle = error.code === SESSION_IDLE_CODE;
      await this.endSessions(tx, [id], idle ? "idle" : "failed");
      if (exec.status !== "RUNNING") return;
      const node = await tx
        .selectFrom("node_executions")
        .selectAll()
        .where("execution_id", "=", executionId)
        .where("node_id", "=", attempt.node_id)
        .executeTakeFirstOrThrow();
      const task = (await this.workflowOf(exec, tx)).tasks.get(node.task);
      const history = await tx
        .selectFrom("attempts")
        .select("status")
        .where("execution_id", "=", executionId)
        .where("node_id", "=", attempt.node_id)
        .execute();
      const lost = history.filter((a) => a.status === "LOST").length;
      const failures = history.length - lost;
      // A session that ended idle is never retried: its user walked away, and a retry would open an IDE for nobody.
      const retry = status === "LOST" ? lost <= this.deps.config.lostAttemptRetries : !idle && failures <= (task?.retries ?? 0);
      if (retry) {
        this.deps.log.info({ attemptId: id, status, next: attempt.number + 1 }, "retrying node");
        return this.createAttempt(tx, fx, executionId, node, attempt.number + 1, { ...error, message: `attempt ${attempt.number} ${status === "LOST" ? "was lost" : "failed"}: ${error.message}` });
      }
      await this.setNode(tx, fx, executionId, node, "FAILED", { error, attempt: attempt.number });
      if (node.parent_node_id !== null) {
        const parent = { node_id: node.parent_node_id };
        await this.setNode(tx, fx, executionId, parent, "FAILED", {
          error: { ...error, message: `element ${node.map_index ?? "?"} (${node.node_id}) failed: ${error.message}` },
        });
      }
      return this.advance(tx, exec, fx);
    });
  }

  async abort(executionId: string): Promise<void> {
    await this.transact(executionId, async (tx, exec, fx) => {
      if (exec.status !== "RUNNING") throw ServerErrors.executionFinished(executionId, exec.status);
      await this.finish(tx, exec, fx, "ABORTED", { error: { message: "aborted by the user", code: "ABORTED" } });
    });
  }

  private executionOf(attemptId: string): string {
    const executionId = executionOfAttempt(attemptId);
    if (!executionId) throw ServerErrors.attemptNotFound(attemptId);
    return executionId;
  }

  // ---- dispatch --------------------------------------------------------------------------------------

  /** One pass, so aborting a large fan-out does not scan the queue once per element. */
  private dropFromQueue(ids: readonly string[]): void {
    if (ids.length === 0) return;
    const ended = new Set(ids);
    let kept = 0;
    for (const id of this.queue) if (!ended.has(id)) this.queue[kept++] = id;
    this.queue.length = kept;
  }

  private pump(): void {
    while (!this.stopping && this.active.size < this.deps.config.maxParallel && this.queue.length > 0) {
      const id = this.queue.shift();
      if (id === undefined) break;
      this.active.add(id);
      void this.launch(id).catch(async (err: unknown) => {
        this.active.delete(id);
        this.deps.log.error({ err, attemptId: id }, "could not launch agent");
        await this.attemptFailed(id, "FAILED", { code: "AGENT_LAUNCH_FAILED", message: `could not start the agent: ${String(err)}` });
        this.pump();
      });
    }
  }

  /**
   * Gives an attempt to an agent: a fresh attempt-scoped token (only its hash is stored) and the agent
   * process that runs it. A queued attempt can be claimed; one already this agent's, while it has not
   * ended, gets a new token (its first answer was lost). Undefined otherwise (aborted meanwhile, …).
   */
  private async claim(id: string, agent: { name: string; pid: number | null }, which: "queued" | "own" = "queued"): Promise<string | undefined> {
    const token = randomBytes(24).toString("base64url");
    let update = this.deps.db
      .updateTable("attempts")
      .set({ token_hash: hashToken(token), heartbeat_at: new Date(), agent: agent.name, pid: agent.pid })
      .where("id", "=", id);
    update = which === "queued" ? update.where("status", "=", "QUEUED") : update.where("agent", "=", agent.name).where("status", "in", ACTIVE_ATTEMPT);
    const row = await update.returning("id").executeTakeFirst();
    return row ? token : undefined;
  }

  private async launch(id: string): Promise<void> {
    const token = await this.claim(id, { name: id, pid: null });
    if (!token) {
      this.active.delete(id);
      this.pump();
      return;
    }
    const task = await this.taskOf(id);
    const { pid } = await this.deps.executor.launch({ attemptId: id, executionId: this.executionOf(id), token, task });
    await this.deps.db.updateTable("attempts").set({ pid }).where("id", "=", id).execute();
  }

  /** The task an attempt runs, as registered (its image and resources tell the executor where to run it). */
  private async taskOf(id: string): Promise<TaskSpec> {
    const row = await this.deps.db
      .selectFrom("attempts as a")
      .innerJoin("node_executions as n", (join) => join.onRef("n.execution_id", "=", "a.execution_id").onRef("n.node_id", "=", "a.node_id"))
      .innerJoin("executions as e", "e.id", "a.execution_id")
      .select(["n.task", "e.project", "e.workflow", "e.version", "e.debug_of"])
      .where("a.id", "=", id)
      .executeTakeFirstOrThrow();
    const task = (await this.workflowOf(row)).tasks.get(row.task);
    if (!task) throw new Error(`attempt ${id}: task ${row.task} is not in its workflow version`);
    return task;
  }

  /**
   * A warm agent has reported `attemptId`: hand it the next queued attempt of the same execution (so a
   * fan-out does not pay a process start per element), marked started, and return it with its token, or null.
   * Abort and timeout still end exactly the attempt the process runs: it runs one at a time.
   */
  async handOver(attemptId: string): Promise<{ attemptId: string; token: string } | null> {
    if (this.stopping || !this.deps.executor.warmAgents) return null;
    const current = await this.deps.db
      .selectFrom("attempts")
      .select(["execution_id", "status", "pid", "agent", "handed_to"])
      .where("id", "=", attemptId)
      .executeTakeFirst();
    if (!current || !TERMINAL_ATTEMPT_STATUSES.includes(current.status as AttemptStatus)) return null;
    const agent = { name: current.agent ?? attemptId, pid: current.pid };

    let next: string | undefined;
    let token: string | undefined;
    if (current.handed_to) {
      // The agent asks again: the answer was lost (a server restart). Same attempt, fresh token.
      next = current.handed_to;
      token = await this.claim(next, agent, "own");
      if (!token) return null;
    } else {
      const prefix = `${current.execution_id}.`;
      for (;;) {
        const index = this.queue.findIndex((id) => id.startsWith(prefix));
        if (index < 0) return null;
        [next] = this.queue.splice(index, 1) as [string];
        token = await this.claim(next, agent);
        if (token) break;
      }
      await this.deps.db.updateTable("attempts").set({ handed_to: next }).where("id", "=", attemptId).execute();
    }
    if (!this.deps.executor.handOver(attemptId, next) && agent.pid !== null) await this.deps.executor.adopt(next, agent.pid, agent.name);
    this.active.delete(attemptId);
    this.active.add(next);
    if (agent.pid !== null) await this.attemptStarted(next, agent.pid);
    return { attemptId: next, token };
  }

  private async agentExited(id: string, exit: AttemptExit): Promise<void> {
    this.active.delete(id);
    this.pump();
    if (this.stopping) return;
    const how = exit.signal ? `was killed by ${exit.signal}` : exit.code === null ? "stopped" : `exited with code ${exit.code}`;
    const message = `the agent ${how} before reporting a result`;
    const record = (withTail: boolean) =>
      this.attemptFailed(id, "FAILED", { code: "AGENT_EXITED", message: withTail && exit.tail ? `${message}; its last output:\n${exit.tail.trim()}` : message });
    // Unrecorded, the attempt would wait for the heartbeat timeout and be re-run as lost, its retries ignored:
    // if the agent's last output is what the store refuses, the exit is recorded without it.
    await record(true)
      .catch(async (err: unknown) => {
        this.deps.log.warn({ err, attemptId: id }, "could not record the agent's exit with its last output; recording it without");
        await record(false);
      })
      .catch((err: unknown) => this.deps.log.error({ err, attemptId: id }, "could not record the agent's exit"));
  }

  /** Timeouts and lost agents (no heartbeat), checked every second. */
  private async sweep(): Promise<void> {
    const now = new Date();
    const timedOut = await this.deps.db
      .selectFrom("attempts")
      .select(["id", "started_at", "deadline_at"])
      .where("status", "=", "RUNNING")
      .where("deadline_at", "<", now)
      .execute();
    // Record why first, then end the agent: its exit report then finds the attempt over and changes nothing.
    for (const a of timedOut) {
      const seconds = a.started_at && a.deadline_at ? Math.round((a.deadline_at.getTime() - a.started_at.getTime()) / 1000) : 0;
      await this.attemptFailed(a.id, "TIMED_OUT", { code: "TIMED_OUT", message: `the task timed out after ${seconds}s` });
      await this.deps.executor.terminate(a.id);
    }
    const stale = await this.deps.db
      .selectFrom("attempts")
      .select("id")
      .where("status", "in", ACTIVE_ATTEMPT)
      .where("pid", "is not", null)
      .where("heartbeat_at", "<", new Date(now.getTime() - this.deps.config.heartbeatTimeoutSeconds * 1000))
      .execute();
    for (const a of stale) {
      await this.attemptFailed(a.id, "LOST", { code: "AGENT_LOST", message: `no heartbeat from the agent for ${this.deps.config.heartbeatTimeoutSeconds}s` });
      await this.deps.executor.terminate(a.id);
    }
  }
}
