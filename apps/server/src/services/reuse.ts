/**
 * Whether a task node runs or reuses outputs that already exist: those of the parent execution (`recover`,
 * `fork`) when the node succeeded there with the same task and the same inputs, else those of the task cache
 * when its task is cached. Decided in the execution's transaction as the node would start (see dag.ts); an
 * attempt's success fills the cache (see attempt-lifecycle.ts).
 */
import { createHash } from "node:crypto";

import type {
  ExecutionParent,
  ForkLineage,
  JsonValue,
  NodeReuse,
  TaskSpec,
  WorkflowSpec,
} from "@drydock/contracts";
import { nodeUpstream } from "@drydock/contracts";
import { sql } from "kysely";

import type { ExecutionRow } from "../db/schema.js";
import { specNodeId } from "./ids.js";
import { pausesBefore } from "./pause-points.js";
import type { LoadedWorkflow } from "./scheduler/loaded-workflow.js";
import type { Tx } from "./scheduler/transaction.js";
import type { WorkflowCache } from "./scheduler/workflow-cache.js";

/** JSON with every object's keys sorted (and undefined members left out), so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const object = value as Record<string, unknown>;
    const members = Object.keys(object)
      .sort()
      .filter((key) => object[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The sha256 of a node's inputs, as the cache and a parent's node are matched by. */
export function inputsHash(inputs: Record<string, JsonValue>): string {
  return sha256(canonicalJson(inputs));
}

/**
 * What makes a task the same task: its name, code, interface and image. A task registered before its code
 * was recorded is known only by its bundle, so any change to the bundle changes it.
 */
export function taskFingerprint(task: TaskSpec, bundle: string): string {
  return sha256(
    canonicalJson({
      name: task.name,
      code: task.code?.sha256 ?? `bundle:${bundle}`,
      inputs: task.inputs,
      output: task.output,
      image: task.image,
    }),
  );
}

/** The cache key of a cached task: the version its author gave, else its fingerprint. */
export function cacheKey(task: TaskSpec, bundle: string): string {
  return task.cache?.version !== undefined
    ? `v:${task.cache.version}`
    : `f:${taskFingerprint(task, bundle)}`;
}

/**
 * The nodes a recovered or forked execution runs whatever its parent did: a recover's `force` nodes; a fork's
 * edited node and every node whose task the edit changed; and everything downstream of those.
 */
export function mustRunNodes(
  spec: WorkflowSpec,
  parent: ExecutionParent,
  forkedFrom?: ForkLineage,
): Set<string> {
  const roots = [...parent.force];
  if (parent.kind === "fork") {
    if (parent.nodeId) roots.push(specNodeId(parent.nodeId));
    const changed = new Set(forkedFrom?.changedTasks ?? []);
    for (const node of spec.nodes) if (changed.has(node.task)) roots.push(node.id);
  }
  const downstream = new Map<string, string[]>();
  for (const node of spec.nodes)
    for (const dep of nodeUpstream(node))
      downstream.set(dep, [...(downstream.get(dep) ?? []), node.id]);
  const result = new Set<string>();
  const queue = roots;
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    if (result.has(id)) continue;
    result.add(id);
    queue.push(...(downstream.get(id) ?? []));
  }
  return result;
}

/** Outputs a node takes instead of running: where they came from, and their JSON text exactly as stored. */
export interface Reused {
  reuse: NodeReuse;
  outputs: string;
}

interface ParentContext {
  executionId: string;
  mustRun: Set<string>;
  /** Whether the task has the same fingerprint in the parent's version as in this execution's. */
  sameTask: (task: string) => boolean;
}

/** A node's row in the parent execution, with the attempt that produced its outputs. */
interface ParentNode {
  node_id: string;
  map_index: number | null;
  status: string;
  inputs: unknown;
  outputs_text: string | null;
  reused: NodeReuse | null;
  attempt_id: string | null;
  outputs_sha256: string | null;
}

const CHUNK = 1_000;

/** Decides reuse for the nodes one step of an execution starts; the parent is read once, when first needed. */
export class OutputReuse {
  private parentContext: Promise<ParentContext | undefined> | undefined;

  constructor(
    private readonly deps: {
      workflows: WorkflowCache;
      tx: Tx;
      exec: ExecutionRow;
      loaded: LoadedWorkflow;
    },
  ) {}

  /** The outputs a task node about to start takes instead of running, or undefined: it runs. */
  async forNode(
    nodeId: string,
    taskName: string,
    inputs: Record<string, JsonValue>,
  ): Promise<Reused | undefined> {
    const [reused] = await this.decide(nodeId, taskName, [inputs], (parent) =>
      this.parentNodes(parent, "node_id", nodeId),
    );
    return reused;
  }

  /** Per element of a fan-out about to expand: the outputs it takes instead of running, or undefined. */
  forElements(
    fanOutId: string,
    taskName: string,
    elements: Record<string, JsonValue>[],
  ): Promise<(Reused | undefined)[]> {
    return this.decide(fanOutId, taskName, elements, (parent) =>
      this.parentNodes(parent, "parent_node_id", fanOutId),
    );
  }

  private async decide(
    specId: string,
    taskName: string,
    elements: Record<string, JsonValue>[],
    parentNodes: (parent: ParentContext) => Promise<ParentNode[]>,
  ): Promise<(Reused | undefined)[]> {
    const task = this.deps.loaded.tasks.get(taskName);
    const result: (Reused | undefined)[] = elements.map(() => undefined);
    if (!task) return result;
    // A pause point runs, held on its first line, for the person who asked to see it run.
    if (pausesBefore(this.deps.exec.pause_before, specId)) return result;
    const parent = await this.parent();
    // Forced nodes run: neither the parent's outputs nor the cache's stand in for them.
    if (parent?.mustRun.has(specId)) return result;
    const fromParent = parent?.sameTask(taskName) === true;
    // Most nodes have neither: their inputs are not even hashed.
    if (!fromParent && !this.readsCache(task, specId)) return result;
    const hashes = elements.map(inputsHash);
    if (parent && fromParent) {
      const rows = await parentNodes(parent);
      // A task node is matched by its id; a fan-out's elements by their index.
      const byIndex = new Map(rows.map((r) => [r.map_index ?? 0, r]));
      hashes.forEach((hash, i) => {
        const row = byIndex.get(i);
        if (row?.status !== "SUCCEEDED" || row.outputs_text === null) return;
        if (inputsHash(row.inputs as Record<string, JsonValue>) !== hash) return;
        result[i] = { reuse: reuseOfParent(parent.executionId, row), outputs: row.outputs_text };
      });
    }
    if (!this.readsCache(task, specId)) return result;
    const missing = [...new Set(hashes.filter((_, i) => result[i] === undefined))];
    const entries = await this.cacheEntries(task, missing);
    hashes.forEach((hash, i) => {
      const entry = entries.get(hash);
      if (result[i] !== undefined || !entry) return;
      result[i] = {
        reuse: {
          from: "cache",
          executionId: entry.execution_id,
          nodeId: entry.node_id,
          attemptId: entry.attempt_id,
          outputsSha256: entry.outputs_sha256,
        },
        outputs: entry.outputs_text,
      };
    });
    return result;
  }

  private readsCache(task: TaskSpec, specId: string): boolean {
    return cachesTask(this.deps.exec, task, specId) && !this.deps.exec.overwrite_cache;
  }

  private async cacheEntries(task: TaskSpec, hashes: string[]) {
    const { tx, exec, loaded } = this.deps;
    const key = cacheKey(task, loaded.bundle);
    const entries = new Map<
      string,
      {
        outputs_text: string;
        outputs_sha256: string;
        execution_id: string;
        node_id: string;
        attempt_id: string;
      }
    >();
    for (let i = 0; i < hashes.length; i += CHUNK) {
      const rows = await tx
        .selectFrom("task_cache")
        .select([
          "inputs_sha256",
          sql<string>`outputs::text`.as("outputs_text"),
          "outputs_sha256",
          "execution_id",
          "node_id",
          "attempt_id",
        ])
        .where("project", "=", exec.project)
        .where("task", "=", task.name)
        .where("cache_key", "=", key)
        .where("inputs_sha256", "in", hashes.slice(i, i + CHUNK))
        .execute();
      for (const { inputs_sha256, ...entry } of rows) entries.set(inputs_sha256, entry);
    }
    return entries;
  }

  private parent(): Promise<ParentContext | undefined> {
    this.parentContext ??= this.readParent();
    return this.parentContext;
  }

  private async readParent(): Promise<ParentContext | undefined> {
    const { workflows, tx, exec, loaded } = this.deps;
    if (!exec.parent) return undefined;
    const row = await tx
      .selectFrom("executions")
      .select(["project", "workflow", "version", "debug_of"])
      .where("id", "=", exec.parent.executionId)
      .executeTakeFirst();
    if (!row) return undefined;
    const before = await workflows.workflowOf(row, tx);
    return {
      executionId: exec.parent.executionId,
      mustRun: mustRunNodes(loaded.spec, exec.parent, loaded.forkedFrom),
      sameTask: (name) => {
        const now = loaded.tasks.get(name);
        const then = before.tasks.get(name);
        return (
          now !== undefined &&
          then !== undefined &&
          taskFingerprint(now, loaded.bundle) === taskFingerprint(then, before.bundle)
        );
      },
    };
  }

  private parentNodes(
    parent: ParentContext,
    by: "node_id" | "parent_node_id",
    id: string,
  ): Promise<ParentNode[]> {
    return this.deps.tx
      .selectFrom("node_executions as n")
      .leftJoin("attempts as a", (j) =>
        j
          .onRef("a.execution_id", "=", "n.execution_id")
          .onRef("a.node_id", "=", "n.node_id")
          .on("a.status", "=", "SUCCEEDED"),
      )
      .select([
        "n.node_id",
        "n.map_index",
        "n.status",
        "n.inputs",
        sql<string | null>`n.outputs::text`.as("outputs_text"),
        "n.reused",
        "a.id as attempt_id",
        "a.outputs_sha256",
      ])
      .where("n.execution_id", "=", parent.executionId)
      .where(`n.${by}`, "=", id)
      .execute();
  }
}

/** The parent node's outputs as this execution reuses them: a node that itself reused names its source. */
function reuseOfParent(executionId: string, row: ParentNode): NodeReuse {
  if (row.reused) return { ...row.reused, from: "parent" };
  return {
    from: "parent",
    executionId,
    nodeId: row.node_id,
    ...(row.attempt_id !== null ? { attemptId: row.attempt_id } : {}),
    ...(row.outputs_sha256 !== null ? { outputsSha256: row.outputs_sha256 } : {}),
  };
}

/**
 * Interactive tasks, debug runs and pause points never read nor write the cache: a person's session is not
 * a result to keep.
 */
function cachesTask(
  exec: Pick<ExecutionRow, "debug_of" | "pause_before">,
  task: TaskSpec,
  nodeId: string,
): boolean {
  return (
    task.cache !== undefined &&
    !task.interactive?.enable &&
    exec.debug_of === null &&
    !pausesBefore(exec.pause_before, nodeId)
  );
}

/**
 * After an attempt of a cached task succeeded: its outputs become the cache's entry for the task's key and
 * these inputs, replacing an older one (which is what `--overwrite-cache` relies on).
 */
export async function cacheOutputs(
  tx: Tx,
  loaded: LoadedWorkflow,
  exec: ExecutionRow,
  node: { node_id: string; task: string },
  attempt: { id: string; outputsSha256: string },
  outputs: JsonValue,
): Promise<void> {
  const task = loaded.tasks.get(node.task);
  if (!task || !cachesTask(exec, task, node.node_id)) return;
  const row = await tx
    .selectFrom("node_executions")
    .select("inputs")
    .where("execution_id", "=", exec.id)
    .where("node_id", "=", node.node_id)
    .executeTakeFirstOrThrow();
  const entry = {
    outputs: JSON.stringify(outputs),
    outputs_sha256: attempt.outputsSha256,
    execution_id: exec.id,
    node_id: node.node_id,
    attempt_id: attempt.id,
    created_at: new Date(),
  };
  await tx
    .insertInto("task_cache")
    .values({
      project: exec.project,
      task: task.name,
      cache_key: cacheKey(task, loaded.bundle),
      inputs_sha256: inputsHash((row.inputs ?? {}) as Record<string, JsonValue>),
      ...entry,
    })
    .onConflict((oc) =>
      oc.columns(["project", "task", "cache_key", "inputs_sha256"]).doUpdateSet(entry),
    )
    .execute();
}
