import { open } from "node:fs/promises";
import { join } from "node:path";

import type {
  Attempt,
  AttemptStatus,
  Execution,
  ExecutionDetail,
  ExecutionEvent,
  ExecutionSummary,
  JsonValue,
  NodeExecution,
  NodeStatus,
} from "@drydock/contracts";
import type { forkBundle } from "@drydock/bundle";
import {
  TERMINAL_ATTEMPT_STATUSES,
  TERMINAL_EXECUTION_STATUSES,
  TERMINAL_NODE_STATUSES,
} from "@drydock/contracts";

import type { LocalBlobStore } from "../blobs/blob-store.js";
import type { Db } from "../db/database.js";
import type { ExecutionRow, NodeRow } from "../db/schema.js";
import { ServerErrors } from "../errors.js";
import {
  SESSION_COLUMNS,
  SUMMARY_COLUMNS,
  toAttempt,
  toExecution,
  toExecutionSummary,
  toNode,
} from "./api-objects.js";
import { Inbox } from "./event-bus.js";
import type { EventBus } from "./event-bus.js";
import { newExecutionId } from "./ids.js";
import { InputValidator } from "./input-validator.js";
import { checkPausePoints } from "./pause-points.js";
import type { Scheduler } from "./scheduler.js";
import type { NewExecution } from "./scheduler/execution-lifecycle.js";
import type { Tx } from "./scheduler/transaction.js";
import type { SessionService } from "./sessions.js";
import type { WorkflowService } from "./workflows.js";
import { bundleKey, storeVersion, versionOf } from "./workflows.js";

/** The most one read of a log returns. */
const LOG_CHUNK_BYTES = 1_048_576;

/** Launching, inspecting, aborting and following executions. */
export class ExecutionService {
  private readonly validator = new InputValidator();

  constructor(
    private readonly deps: {
      db: Db;
      scheduler: Scheduler;
      workflows: WorkflowService;
      sessions: SessionService;
      blobs: LocalBlobStore;
      bus: EventBus;
      logsDir: string;
    },
  ) {}

  async create(
    input: {
      project: string;
      workflow: string;
      version?: string;
      inputs: Record<string, JsonValue>;
      overwriteCache?: boolean;
      pauseBefore?: string[];
    },
    createdBy?: string,
  ): Promise<Execution> {
    const version = await this.deps.workflows.get(input.project, input.workflow, input.version);
    const pauseBefore = checkPausePoints(
      { name: version.name, nodes: version.spec.nodes },
      input.pauseBefore ?? [],
    );
    const checked = this.validator.validate(
      `${input.project}/${version.name}/${version.version}`,
      version.spec,
      input.inputs,
    );
    if (!checked.ok) throw ServerErrors.invalidInputs(version.name, checked.problems);
    return this.startNew({
      project: input.project,
      workflow: version.name,
      version: version.version,
      inputs: checked.value,
      overwriteCache: input.overwriteCache ?? false,
      pauseBefore,
      ...(createdBy ? { createdBy } : {}),
    });
  }

  /**
   * `drydock recover`: a new execution of the same version with the same inputs, linked to this ended one.
   * Each node that succeeded there with the same task and inputs reuses its outputs (see reuse.ts); the rest
   * runs, and so do `force`'s nodes and everything downstream of them.
   */
  async recover(id: string, force: string[], createdBy?: string): Promise<Execution> {
    const row = await this.row(id);
    const refuse = (why: string) => ServerErrors.executionNotRecoverable(id, why);
    if (row.debug_of)
      throw refuse(
        `it is a debug run of node "${row.debug_of.nodeId}" of execution "${row.debug_of.executionId}"; debug that node again instead`,
      );
    if (row.status === "RUNNING")
      throw refuse("it is RUNNING; recover it once it has ended, or abort it first");
    if (row.status === "SUCCEEDED" && force.length === 0)
      throw refuse("it succeeded; name nodes to run again with --force");
    const { spec } = await this.deps.scheduler.workflowOf(row);
    const valid = spec.nodes.map((n) => n.id);
    const forced = [...new Set(force)];
    const unknown = forced.filter((n) => !valid.includes(n));
    if (unknown.length > 0) throw ServerErrors.forceNodesUnknown(id, unknown, valid);
    return this.startNew({
      project: row.project,
      workflow: row.workflow,
      version: row.version,
      inputs: row.inputs as Record<string, JsonValue>,
      parent: { executionId: id, kind: "recover", force: forced },
      ...(createdBy ? { createdBy } : {}),
    });
  }

  /**
   * `drydock fork`: registers a new version made of the execution's bundle plus the IDE edits of the node's
   * latest session that saved any (its lineage recorded), and starts it with the execution's inputs, linked
   * to it: the edited node and what is downstream run, unchanged upstream nodes are reused. The edits of a
   * debug run's node fork the execution it debugged. The version and the execution are written in one
   * transaction; the new bundle blob is content-addressed, so one left by a failure is simply reused.
   */
  async fork(executionId: string, nodeId: string, createdBy?: string): Promise<Execution> {
    const row = await this.row(executionId);
    const base = row.debug_of ? await this.row(row.debug_of.executionId) : row;
    for (const x of new Set([row, base]))
      if (x.status === "RUNNING")
        throw ServerErrors.executionNotForkable(
          x.id,
          "it is RUNNING; fork it once it has ended, or abort it first",
        );
    const edits = await this.deps.sessions.editedChanges(executionId, nodeId);
    if (!edits) throw ServerErrors.noEditsToFork(executionId, nodeId);
    const version = await this.deps.workflows.get(base.project, base.workflow, base.version);
    const refuse = (why: string) => ServerErrors.forkFailed(executionId, nodeId, why);
    const tarball = await this.deps.blobs
      .readBuffer(bundleKey(version.bundle))
      .catch(() => undefined);
    if (!tarball)
      throw refuse(
        `the bundle of version ${version.version} (${version.bundle}) is not in this server's blob store`,
      );
    let forked: Awaited<ReturnType<typeof forkBundle>>;
    try {
      // Loaded on the first fork: TypeScript's compiler, which finds the tasks' code, is most of a start-up.
      const { forkBundle } = await import("@drydock/bundle");
      forked = await forkBundle(tarball, edits.patch, version.tasks);
    } catch (error) {
      throw refuse(error instanceof Error ? error.message : String(error));
    }
    await this.deps.blobs.write(bundleKey(forked.sha256), forked.tarball, forked.size);
    const content = {
      project: base.project,
      bundle: forked.sha256,
      entry: version.entry,
      spec: version.spec,
      tasks: new Map(forked.tasks.map((t) => [t.name, t])),
    };
    const forkedFrom = {
      version: version.version,
      executionId,
      nodeId,
      sessionId: edits.sessionId,
      patch: edits.patch,
      changedTasks: forked.changedTasks,
    };
    return this.startNew(
      {
        project: base.project,
        workflow: base.workflow,
        version: versionOf(content).version,
        inputs: base.inputs as Record<string, JsonValue>,
        parent: { executionId: base.id, kind: "fork", nodeId, force: [] },
        ...(createdBy ? { createdBy } : {}),
      },
      async (tx) => {
        await tx
          .insertInto("bundles")
          .values({ sha256: forked.sha256, size: forked.size })
          .onConflict((oc) => oc.doNothing())
          .execute();
        await storeVersion(tx, content, { forkedFrom });
      },
    );
  }

  private async row(id: string): Promise<ExecutionRow> {
    const row = await this.deps.db
      .selectFrom("executions")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw ServerErrors.executionNotFound(id);
    return row;
  }

  async execution(id: string): Promise<Execution> {
    const row = await this.deps.db
      .selectFrom("executions")
      .leftJoin("users", "users.id", "executions.created_by")
      .selectAll("executions")
      .select("users.name as created_by_name")
      .where("executions.id", "=", id)
      .executeTakeFirst();
    if (!row) throw ServerErrors.executionNotFound(id);
    return toExecution(row);
  }

  /** Newest first, as summaries: a page of executions never carries their inputs or results whole. */
  async list(input: {
    project: string;
    status?: string;
    workflow?: string;
    limit: number;
  }): Promise<ExecutionSummary[]> {
    await this.deps.workflows.requireProject(input.project);
    let query = this.deps.db
      .selectFrom("executions")
      .select(SUMMARY_COLUMNS)
      .where("project", "=", input.project);
    if (input.status) query = query.where("status", "=", input.status);
    if (input.workflow) query = query.where("workflow", "=", input.workflow);
    const rows = await query.orderBy("created_at", "desc").limit(input.limit).execute();
    return rows.map(toExecutionSummary);
  }

  async summary(id: string): Promise<ExecutionSummary> {
    const row = await this.deps.db
      .selectFrom("executions")
      .select(SUMMARY_COLUMNS)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw ServerErrors.executionNotFound(id);
    return toExecutionSummary(row);
  }

  async detail(id: string): Promise<ExecutionDetail> {
    const execution = await this.execution(id);
    const [nodes, version] = await Promise.all([
      this.nodes(id),
      this.deps.db
        .selectFrom("workflow_versions")
        .select("forked_from")
        .where("project", "=", execution.project)
        .where("name", "=", execution.workflow)
        .where("version", "=", execution.version)
        .executeTakeFirst(),
    ]);
    const lineage = version?.forked_from;
    return { execution, nodes, ...(lineage ? { lineage } : {}) };
  }

  /** One node of an execution, with its attempts and their sessions. */
  async node(executionId: string, nodeId: string): Promise<NodeExecution> {
    const [node] = await this.nodes(executionId, nodeId);
    if (node) return node;
    await this.execution(executionId);
    throw ServerErrors.nodeNotFound(executionId, nodeId);
  }

  /** The execution's nodes (or the one named) in DAG order, elements after their fan-out. */
  private async nodes(executionId: string, onlyNode?: string): Promise<NodeExecution[]> {
    const { db } = this.deps;
    let nodeQuery = db
      .selectFrom("node_executions")
      .selectAll()
      .where("execution_id", "=", executionId);
    let attemptQuery = db
      .selectFrom("attempts")
      .selectAll()
      .where("execution_id", "=", executionId);
    let sessionQuery = db
      .selectFrom("interactive_sessions")
      .innerJoin("attempts", "attempts.id", "interactive_sessions.attempt_id")
      .select(SESSION_COLUMNS)
      .where("attempts.execution_id", "=", executionId);
    if (onlyNode !== undefined) {
      nodeQuery = nodeQuery.where("node_id", "=", onlyNode);
      attemptQuery = attemptQuery.where("node_id", "=", onlyNode);
      sessionQuery = sessionQuery.where("attempts.node_id", "=", onlyNode);
    }
    const [nodes, attempts, sessions] = await Promise.all([
      nodeQuery.execute(),
      attemptQuery.orderBy("number").execute(),
      sessionQuery.orderBy("interactive_sessions.created_at").execute(),
    ]);
    // The latest session of each attempt (sessions come oldest first).
    const sessionOf = new Map(sessions.map((s) => [s.attempt_id, s]));
    const byNode = new Map<string, Attempt[]>();
    for (const a of attempts)
      byNode.set(a.node_id, [...(byNode.get(a.node_id) ?? []), toAttempt(a, sessionOf.get(a.id))]);
    const order = (n: NodeRow) =>
      [Number(n.node_id.match(/^n(\d+)/)?.[1] ?? 0), n.map_index ?? -1] as const;
    nodes.sort((a, b) => {
      const [x1, y1] = order(a);
      const [x2, y2] = order(b);
      return x1 - x2 || y1 - y2;
    });
    return nodes.map((n) => toNode(n, byNode.get(n.node_id) ?? []));
  }

  /**
   * `drydock debug`: a new execution of the same workflow version (same bundle, nothing re-registered) that
   * re-runs one node of a past execution interactively, with the inputs that node had, keeping its id.
   * Any node that ran to an end with its inputs recorded qualifies, fan-out elements (`n1[0]`) included;
   * a fan-out itself ran no task, so it names an element instead. See `debugWorkflow` for the run's shape.
   * `pauseBefore` makes the node a pause point: its task is held on its first line with its IDE open.
   */
  async debug(
    executionId: string,
    nodeId: string,
    createdBy?: string,
    options: { pauseBefore?: boolean } = {},
  ): Promise<Execution> {
    const node = await this.deps.db
      .selectFrom("node_executions as n")
      .innerJoin("executions as x", "x.id", "n.execution_id")
      .select([
        "n.task",
        "n.status",
        "n.inputs",
        "n.children_total",
        "x.project",
        "x.workflow",
        "x.version",
      ])
      .where("n.execution_id", "=", executionId)
      .where("n.node_id", "=", nodeId)
      .executeTakeFirst();
    if (!node) {
      await this.execution(executionId);
      throw ServerErrors.nodeNotFound(executionId, nodeId);
    }
    const refuse = (why: string) => ServerErrors.nodeNotDebuggable(executionId, nodeId, why);
    if (!TERMINAL_NODE_STATUSES.includes(node.status as NodeStatus))
      throw refuse(`it is ${node.status}; debug it once it has finished`);
    if (node.children_total !== null) {
      throw refuse(
        node.children_total > 0
          ? `it is a fan-out, which runs no task itself; debug one of its elements, e.g. "${nodeId}[0]"`
          : "it is a fan-out over an empty list",
      );
    }
    if (node.inputs === null)
      throw refuse(`it ended ${node.status} before it ran, so it has no inputs to re-run with`);
    return this.startNew({
      project: node.project,
      workflow: node.workflow,
      version: node.version,
      inputs: node.inputs as Record<string, JsonValue>,
      debugOf: { executionId, nodeId, task: node.task },
      ...(options.pauseBefore ? { pauseBefore: [nodeId] } : {}),
      ...(createdBy ? { createdBy } : {}),
    });
  }

  /** Starts an execution under a new id and returns it as it stands once started. */
  private async startNew(
    execution: Omit<NewExecution, "id">,
    prepare?: (tx: Tx) => Promise<void>,
  ): Promise<Execution> {
    const id = newExecutionId();
    await this.deps.scheduler.startExecution({ id, ...execution }, prepare);
    return this.execution(id);
  }

  async abort(id: string): Promise<Execution> {
    await this.deps.scheduler.abort(id);
    return this.execution(id);
  }

  async logs(attemptId: string, offset: number): Promise<{ text: string; nextOffset: number }> {
    const attempt = await this.deps.db
      .selectFrom("attempts")
      .select("id")
      .where("id", "=", attemptId)
      .executeTakeFirst();
    if (!attempt) throw ServerErrors.attemptNotFound(attemptId);
    // No log yet, or one that cannot be read (the attempt records why its lines were lost): nothing to show.
    const file = await open(join(this.deps.logsDir, `${attemptId}.log`), "r").catch(
      () => undefined,
    );
    if (!file) return { text: "", nextOffset: offset };
    try {
      const buffer = Buffer.alloc(LOG_CHUNK_BYTES);
      const { bytesRead } = await file
        .read(buffer, 0, buffer.length, offset)
        .catch(() => ({ bytesRead: 0 }));
      return {
        text: buffer.subarray(0, bytesRead).toString("utf8"),
        nextOffset: offset + bytesRead,
      };
    } finally {
      await file.close();
    }
  }

  /** A snapshot, then every change, until the execution ends or the watcher leaves. */
  async *watch(id: string, signal: AbortSignal): AsyncGenerator<ExecutionEvent> {
    const inbox = new Inbox<ExecutionEvent>((push) => this.deps.bus.subscribe(id, push));
    try {
      const detail = await this.detail(id);
      yield { type: "snapshot", detail };
      if (TERMINAL_EXECUTION_STATUSES.includes(detail.execution.status)) return;
      while (!signal.aborted) {
        for (const event of await inbox.take(signal)) {
          yield event;
          if (event.type === "execution" && TERMINAL_EXECUTION_STATUSES.includes(event.status))
            return;
        }
      }
    } finally {
      inbox.close();
    }
  }

  /** The project's executions as they start and change status, until the watcher leaves. */
  async *watchList(
    project: string,
    signal: AbortSignal,
  ): AsyncGenerator<{ execution: ExecutionSummary }> {
    await this.deps.workflows.requireProject(project);
    const inbox = new Inbox<string>((push) => this.deps.bus.subscribeList(project, push));
    try {
      while (!signal.aborted) {
        // A burst of changes to one execution is one row read.
        for (const id of new Set(await inbox.take(signal)))
          yield { execution: await this.summary(id) };
      }
    } finally {
      inbox.close();
    }
  }

  /**
   * The attempt's log from `offset`, then each time it grows, until the attempt has ended and all of it was
   * sent (the last chunk says `ended`) or the watcher leaves.
   */
  async *tailLogs(
    attemptId: string,
    offset: number,
    signal: AbortSignal,
  ): AsyncGenerator<{ text: string; nextOffset: number; ended: boolean }> {
    const attempt = await this.deps.db
      .selectFrom("attempts")
      .select(["execution_id"])
      .where("id", "=", attemptId)
      .executeTakeFirst();
    if (!attempt) throw ServerErrors.attemptNotFound(attemptId);
    // Woken by new lines, and by the execution's events, one of which says the attempt ended.
    const inbox = new Inbox<unknown>((push) => {
      const offLog = this.deps.bus.subscribeLog(attemptId, () => push(true));
      const offExecution = this.deps.bus.subscribe(attempt.execution_id, push);
      return () => {
        offLog();
        offExecution();
      };
    });
    try {
      let next = offset;
      while (!signal.aborted) {
        // Status before text: an agent writes its last lines before it reports the end.
        const { status } = await this.deps.db
          .selectFrom("attempts")
          .select("status")
          .where("id", "=", attemptId)
          .executeTakeFirstOrThrow();
        const ended = TERMINAL_ATTEMPT_STATUSES.includes(status as AttemptStatus);
        for (;;) {
          const chunk = await this.logs(attemptId, next);
          const full = chunk.nextOffset - next === LOG_CHUNK_BYTES;
          next = chunk.nextOffset;
          if (chunk.text || (ended && !full)) yield { ...chunk, ended: ended && !full };
          if (!full) break;
        }
        if (ended) return;
        await inbox.take(signal);
      }
    } finally {
      inbox.close();
    }
  }
}
