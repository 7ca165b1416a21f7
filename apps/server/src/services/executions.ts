import { open } from "node:fs/promises";
import { join } from "node:path";

import type { Attempt, Execution, ExecutionDetail, ExecutionEvent, JsonValue, NodeStatus } from "@drydock/contracts";
import { TERMINAL_EXECUTION_STATUSES, TERMINAL_NODE_STATUSES } from "@drydock/contracts";

import type { Db } from "../db/database.js";
import type { NodeRow } from "../db/schema.js";
import { ServerErrors } from "../errors.js";
import type { EventBus } from "./event-bus.js";
import { newExecutionId } from "./ids.js";
import { InputValidator } from "./input-validator.js";
import type { Scheduler } from "./scheduler.js";
import { SESSION_COLUMNS, toAttempt, toExecution, toNode } from "./views.js";
import type { WorkflowService } from "./workflows.js";

/** Launching, inspecting, aborting and following executions. */
export class ExecutionService {
  private readonly validator = new InputValidator();

  constructor(
    private readonly deps: { db: Db; scheduler: Scheduler; workflows: WorkflowService; bus: EventBus; logsDir: string },
  ) {}

  async create(input: { project: string; workflow: string; version?: string; inputs: Record<string, JsonValue> }): Promise<Execution> {
    const version = await this.deps.workflows.get(input.project, input.workflow, input.version);
    const checked = this.validator.validate(`${input.project}/${version.name}/${version.version}`, version.spec, input.inputs);
    if (!checked.ok) throw ServerErrors.invalidInputs(version.name, checked.problems);
    const id = newExecutionId();
    await this.deps.scheduler.startExecution({ id, project: input.project, workflow: version.name, version: version.version, inputs: checked.value });
    return this.execution(id);
  }

  async execution(id: string): Promise<Execution> {
    const row = await this.deps.db.selectFrom("executions").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw ServerErrors.executionNotFound(id);
    return toExecution(row);
  }

  async list(input: { project: string; status?: string; workflow?: string; limit: number }): Promise<Execution[]> {
    await this.deps.workflows.requireProject(input.project);
    let query = this.deps.db.selectFrom("executions").selectAll().where("project", "=", input.project);
    if (input.status) query = query.where("status", "=", input.status);
    if (input.workflow) query = query.where("workflow", "=", input.workflow);
    const rows = await query.orderBy("created_at", "desc").limit(input.limit).execute();
    return rows.map(toExecution);
  }

  async detail(id: string): Promise<ExecutionDetail> {
    const execution = await this.execution(id);
    const [nodes, attempts, sessions] = await Promise.all([
      this.deps.db.selectFrom("node_executions").selectAll().where("execution_id", "=", id).execute(),
      this.deps.db.selectFrom("attempts").selectAll().where("execution_id", "=", id).orderBy("number").execute(),
      this.deps.db
        .selectFrom("interactive_sessions")
        .innerJoin("attempts", "attempts.id", "interactive_sessions.attempt_id")
        .select(SESSION_COLUMNS)
        .where("attempts.execution_id", "=", id)
        .orderBy("interactive_sessions.created_at")
        .execute(),
    ]);
    // The latest session of each attempt (sessions come oldest first).
    const sessionOf = new Map(sessions.map((s) => [s.attempt_id, s]));
    const byNode = new Map<string, Attempt[]>();
    for (const a of attempts) byNode.set(a.node_id, [...(byNode.get(a.node_id) ?? []), toAttempt(a, sessionOf.get(a.id))]);
    const order = (n: NodeRow) => [Number(n.node_id.match(/^n(\d+)/)?.[1] ?? 0), n.map_index ?? -1] as const;
    nodes.sort((a, b) => {
      const [x1, y1] = order(a);
      const [x2, y2] = order(b);
      return x1 - x2 || y1 - y2;
    });
    return { execution, nodes: nodes.map((n) => toNode(n, byNode.get(n.node_id) ?? [])) };
  }

  /**
   * `drydock debug`: a new execution of the same workflow version (same bundle, nothing re-registered) that
   * re-runs one node of a past execution interactively, with the inputs that node had, keeping its id.
   * Any node that ran to an end with its inputs recorded qualifies, fan-out elements (`n1[0]`) included;
   * a fan-out itself ran no task, so it names an element instead. See `debugWorkflow` for the run's shape.
   */
  async debug(executionId: string, nodeId: string): Promise<Execution> {
    const node = await this.deps.db
      .selectFrom("node_executions as n")
      .innerJoin("executions as x", "x.id", "n.execution_id")
      .select(["n.task", "n.status", "n.inputs", "n.children_total", "x.project", "x.workflow", "x.version"])
      .where("n.execution_id", "=", executionId)
      .where("n.node_id", "=", nodeId)
      .executeTakeFirst();
    if (!node) {
      await this.execution(executionId);
      throw ServerErrors.nodeNotFound(executionId, nodeId);
    }
    const refuse = (why: string) => ServerErrors.nodeNotDebuggable(executionId, nodeId, why);
    if (!TERMINAL_NODE_STATUSES.includes(node.status as NodeStatus)) throw refuse(`it is ${node.status}; debug it once it has finished`);
    if (node.children_total !== null) {
      throw refuse(
        node.children_total > 0 ? `it is a fan-out, which runs no task itself; debug one of its elements, e.g. "${nodeId}[0]"` : "it is a fan-out over an empty list",
      );
    }
    if (node.inputs === null) throw refuse(`it ended ${node.status} before it ran, so it has no inputs to re-run with`);
    const id = newExecutionId();
    await this.deps.scheduler.startExecution({
      id,
      project: node.project,
      workflow: node.workflow,
      version: node.version,
      inputs: node.inputs as Record<string, JsonValue>,
      debugOf: { executionId, nodeId, task: node.task },
    });
    return this.execution(id);
  }

  async abort(id: string): Promise<Execution> {
    await this.deps.scheduler.abort(id);
    return this.execution(id);
  }

  async logs(attemptId: string, offset: number): Promise<{ text: string; nextOffset: number }> {
    const attempt = await this.deps.db.selectFrom("attempts").select("id").where("id", "=", attemptId).executeTakeFirst();
    if (!attempt) throw ServerErrors.attemptNotFound(attemptId);
    const file = await open(join(this.deps.logsDir, `${attemptId}.log`), "r").catch(() => undefined);
    if (!file) return { text: "", nextOffset: offset };
    try {
      const buffer = Buffer.alloc(1_048_576);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
      return { text: buffer.subarray(0, bytesRead).toString("utf8"), nextOffset: offset + bytesRead };
    } finally {
      await file.close();
    }
  }

  /** A snapshot, then every change, until the execution ends or the watcher leaves. */
  async *watch(id: string, signal: AbortSignal): AsyncGenerator<ExecutionEvent> {
    const pending: ExecutionEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.deps.bus.subscribe(id, (event) => {
      pending.push(event);
      wake?.();
    });
    try {
      const detail = await this.detail(id);
      yield { type: "snapshot", detail };
      if (TERMINAL_EXECUTION_STATUSES.includes(detail.execution.status)) return;
      while (!signal.aborted) {
        for (let event = pending.shift(); event; event = pending.shift()) {
          yield event;
          if (event.type === "execution" && TERMINAL_EXECUTION_STATUSES.includes(event.status)) return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  }
}
