/**
 * The DAG's transitions, each taken inside an execution's transaction (see transaction.ts): which nodes
 * can start, fan-outs expanding into elements, nodes and executions ending. They only write rows and note
 * effects in `fx`; nothing here launches or ends an agent.
 */
import type {
  Binding,
  BindingScope,
  ErrorInfo,
  ExecutionEvent,
  JsonValue,
  NodeReuse,
  NodeSpec,
  NodeStatus,
  SessionEndReason,
} from "@drydock/contracts";
import { BindingError, nodeUpstream, resolveBinding, resolveNodeInputs } from "@drydock/contracts";

import type { ExecutionRow, NodeRow } from "../../db/schema.js";
import { attemptId } from "../ids.js";
import { jsonColumns } from "../json-text.js";
import { OutputReuse } from "../reuse.js";
import type { Reused } from "../reuse.js";
import { ACTIVE_ATTEMPT, ACTIVE_NODE } from "./open-statuses.js";
import type { Effects, Tx } from "./transaction.js";
import type { WorkflowCache } from "./workflow-cache.js";

export function errorJson(error: ErrorInfo): string {
  return JSON.stringify(error);
}

export function nodeEvent(
  executionId: string,
  nodeId: string,
  status: NodeStatus,
  attempt?: number,
  reused?: NodeReuse,
): ExecutionEvent & { type: "node" } {
  return {
    type: "node",
    executionId,
    nodeId,
    status,
    at: new Date().toISOString(),
    ...(attempt ? { attempt } : {}),
    ...(reused ? { reused } : {}),
  };
}

/** Decides what can run next, and whether the execution is over. Idempotent. */
export async function advance(
  workflows: WorkflowCache,
  tx: Tx,
  exec: ExecutionRow,
  fx: Effects,
): Promise<void> {
  if (exec.status !== "RUNNING") return;
  const loaded = await workflows.workflowOf(exec, tx);
  const { spec } = loaded;
  const rows = await tx
    .selectFrom("node_executions")
    .selectAll()
    .where("execution_id", "=", exec.id)
    .where("parent_node_id", "is", null)
    .execute();
  const byId = new Map(rows.map((r) => [r.node_id, r]));
  const inputs = exec.inputs as Record<string, JsonValue>;
  const scope: BindingScope = {
    input: (name: string) => inputs[name],
    node: (id: string) => (byId.get(id)?.outputs ?? undefined) as JsonValue | undefined,
  };

  const failed = rows.find((r) => r.status === "FAILED");
  if (failed) {
    const error = failed.error as ErrorInfo | null;
    await finish(tx, exec, fx, "FAILED", {
      error: {
        message: `node ${failed.node_id} (${failed.task}) failed: ${error?.message ?? "unknown error"}`,
        ...(error?.stack ? { stack: error.stack } : {}),
        code: error?.code ?? "NODE_FAILED",
      },
    });
    return;
  }

  const reuse = new OutputReuse({ workflows, tx, exec, loaded });
  for (const node of spec.nodes) {
    const row = byId.get(node.id);
    if (row?.status !== "PENDING") continue;
    if (![...nodeUpstream(node)].every((dep) => byId.get(dep)?.status === "SUCCEEDED")) continue;
    // A node that ended as it started changed what the rest of the DAG sees: decide again from the start.
    if (await startNode(tx, exec.id, fx, node, row, scope, reuse))
      return advance(workflows, tx, exec, fx);
  }
  await finishOnceAllSucceeded(tx, exec, fx, spec.output, scope);
}

/**
 * Starts a node whose upstream succeeded: a task gets its first attempt, a fan-out one child per element.
 * True when the node ended at once instead (its inputs did not bind, it fans out over nothing, or it reused
 * outputs: see reuse.ts).
 */
async function startNode(
  tx: Tx,
  executionId: string,
  fx: Effects,
  node: NodeSpec,
  row: NodeRow,
  scope: BindingScope,
  reuse: OutputReuse,
): Promise<boolean> {
  let resolved: Record<string, JsonValue>[];
  try {
    resolved = resolveNodeInputs(node, scope);
  } catch (error) {
    if (!(error instanceof BindingError)) throw error;
    await setNode(tx, fx, executionId, row, "FAILED", {
      error: { message: error.message, code: "BINDING_FAILED" },
    });
    return true;
  }
  if (node.kind === "task") {
    const first = resolved[0] ?? {};
    const reused = await reuse.forNode(node.id, node.task, first);
    const now = new Date();
    await tx
      .updateTable("node_executions")
      .set({
        inputs: JSON.stringify(first),
        ...(reused
          ? {
              status: "SUCCEEDED",
              outputs: reused.outputs,
              reused: JSON.stringify(reused.reuse),
              started_at: now,
              ended_at: now,
            }
          : {}),
      })
      .where("execution_id", "=", executionId)
      .where("node_id", "=", node.id)
      .execute();
    if (reused) {
      fx.events.push(nodeEvent(executionId, node.id, "SUCCEEDED", undefined, reused.reuse));
      return true;
    }
    await createAttempt(tx, fx, executionId, row, 1);
    return false;
  }
  // A fan-out: one child node per element; the parent finishes when its children do.
  await tx
    .updateTable("node_executions")
    .set({ status: "RUNNING", started_at: new Date(), children_total: resolved.length })
    .where("execution_id", "=", executionId)
    .where("node_id", "=", node.id)
    .execute();
  fx.events.push(nodeEvent(executionId, node.id, "RUNNING"));
  if (resolved.length === 0) {
    await setNode(tx, fx, executionId, row, "SUCCEEDED", { outputs: [] });
    return true;
  }
  const reused = await reuse.forElements(node.id, node.task, resolved);
  return expandMap(tx, fx, executionId, node.id, node.task, resolved, reused);
}

/** Once every top-level node succeeded, the execution succeeds with its output binding resolved (or fails if it does not bind). */
async function finishOnceAllSucceeded(
  tx: Tx,
  exec: ExecutionRow,
  fx: Effects,
  output: Binding,
  scope: BindingScope,
): Promise<void> {
  const top = await tx
    .selectFrom("node_executions")
    .select(["node_id", "status", "outputs"])
    .where("execution_id", "=", exec.id)
    .where("parent_node_id", "is", null)
    .execute();
  if (!top.every((r) => r.status === "SUCCEEDED")) return;
  const outputs = new Map(top.map((r) => [r.node_id, r.outputs as JsonValue]));
  try {
    const result = resolveBinding(output, {
      input: (name) => scope.input(name),
      node: (id) => outputs.get(id),
    });
    await finish(tx, exec, fx, "SUCCEEDED", { result });
  } catch (error) {
    if (!(error instanceof BindingError)) throw error;
    await finish(tx, exec, fx, "FAILED", {
      error: { message: error.message, code: "BINDING_FAILED" },
    });
  }
}

/**
 * One child node per element: an element that reuses outputs (`reused[i]`) SUCCEEDED at once, counted done,
 * with no attempt; the others are queued. True when every element reused, so the fan-out SUCCEEDED too.
 */
async function expandMap(
  tx: Tx,
  fx: Effects,
  executionId: string,
  parentId: string,
  task: string,
  elements: Record<string, JsonValue>[],
  reused: (Reused | undefined)[],
): Promise<boolean> {
  const now = new Date();
  const children = elements.map((inputs, index) => ({
    nodeId: `${parentId}[${index}]`,
    inputs,
    index,
    reused: reused[index],
  }));
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
          inputs: JSON.stringify(c.inputs),
          ...(c.reused
            ? {
                status: "SUCCEEDED",
                outputs: c.reused.outputs,
                reused: JSON.stringify(c.reused.reuse),
                started_at: now,
                ended_at: now,
              }
            : { status: "QUEUED" }),
        })),
      )
      .execute();
    const queued = chunk.filter((c) => !c.reused);
    if (queued.length > 0)
      await tx
        .insertInto("attempts")
        .values(
          queued.map((c) => ({
            id: attemptId(executionId, c.nodeId, 1),
            execution_id: executionId,
            node_id: c.nodeId,
            number: 1,
            status: "QUEUED",
          })),
        )
        .execute();
    for (const c of chunk) {
      if (c.reused) {
        fx.events.push(nodeEvent(executionId, c.nodeId, "SUCCEEDED", undefined, c.reused.reuse));
        continue;
      }
      fx.dispatch.push(attemptId(executionId, c.nodeId, 1));
      fx.events.push(nodeEvent(executionId, c.nodeId, "QUEUED", 1));
    }
  }
  const done = children.filter((c) => c.reused).length;
  if (done === 0) return false;
  await tx
    .updateTable("node_executions")
    .set({ children_done: done })
    .where("execution_id", "=", executionId)
    .where("node_id", "=", parentId)
    .execute();
  if (done < children.length) return false;
  await setNode(tx, fx, executionId, { node_id: parentId }, "SUCCEEDED", {
    outputs: children.map((c) => JSON.parse(c.reused?.outputs ?? "null") as JsonValue),
  });
  return true;
}

/** `after`: why the previous attempt ended, carried on the retry's QUEUED event. */
export async function createAttempt(
  tx: Tx,
  fx: Effects,
  executionId: string,
  node: NodeRow,
  number: number,
  after?: ErrorInfo,
): Promise<void> {
  const id = attemptId(executionId, node.node_id, number);
  await tx
    .insertInto("attempts")
    .values({ id, execution_id: executionId, node_id: node.node_id, number, status: "QUEUED" })
    .execute();
  await tx
    .updateTable("node_executions")
    .set({ status: "QUEUED" })
    .where("execution_id", "=", executionId)
    .where("node_id", "=", node.node_id)
    .execute();
  fx.dispatch.push(id);
  fx.events.push({
    ...nodeEvent(executionId, node.node_id, "QUEUED", number),
    ...(after ? { error: after } : {}),
  });
}

/**
 * Ends the live interactive sessions of attempts that ended, saying why. An agent that ended its session
 * itself first (idle, say) keeps its own reason: only sessions not yet ENDED change.
 */
export async function endSessions(
  tx: Tx,
  attemptIds: string[],
  reason: SessionEndReason,
): Promise<void> {
  if (attemptIds.length === 0) return;
  await tx
    .updateTable("interactive_sessions")
    .set({ state: "ENDED", end_reason: reason, ended_at: new Date() })
    .where("attempt_id", "in", attemptIds)
    .where("state", "<>", "ENDED")
    .execute();
}

export async function setNode(
  tx: Tx,
  fx: Effects,
  executionId: string,
  node: Pick<NodeRow, "node_id">,
  status: "SUCCEEDED" | "FAILED",
  values: { outputs?: JsonValue; error?: ErrorInfo; attempt?: number },
): Promise<Pick<NodeRow, "parent_node_id" | "task">> {
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
    .returning(["parent_node_id", "task"])
    .executeTakeFirstOrThrow();
  fx.events.push({
    ...nodeEvent(executionId, node.node_id, status, values.attempt),
    ...(values.error ? { error: values.error } : {}),
  });
  return row;
}

export async function finish(
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
      ...(result
        ? { result: result.text, result_bytes: result.bytes, result_preview: result.preview }
        : {}),
      ...(values.error ? { error: errorJson(values.error) } : {}),
    })
    .where("id", "=", exec.id)
    .execute();
  if (status !== "SUCCEEDED") await closeOpenWork(tx, exec.id, fx, status);
  fx.events.push({
    type: "execution",
    executionId: exec.id,
    status,
    at: new Date().toISOString(),
    ...(values.result !== undefined ? { result: values.result } : {}),
    ...(values.error ? { error: values.error } : {}),
  });
}

/** Nothing else of an execution that failed or was aborted may run on: end the nodes and attempts still open. */
async function closeOpenWork(
  tx: Tx,
  executionId: string,
  fx: Effects,
  status: "FAILED" | "ABORTED",
): Promise<void> {
  const ended = await tx
    .updateTable("attempts")
    .set({ status: "ABORTED", ended_at: new Date() })
    .where("execution_id", "=", executionId)
    .where("status", "in", ACTIVE_ATTEMPT)
    .returning("id")
    .execute();
  fx.terminate.push(...ended.map((a) => a.id));
  await endSessions(
    tx,
    ended.map((a) => a.id),
    status === "ABORTED" ? "aborted" : "failed",
  );
  const nodes = await tx
    .updateTable("node_executions")
    .set({ status: status === "ABORTED" ? "ABORTED" : "SKIPPED", ended_at: new Date() })
    .where("execution_id", "=", executionId)
    .where("status", "in", ACTIVE_NODE)
    .returning(["node_id", "status"])
    .execute();
  for (const n of nodes)
    fx.events.push(nodeEvent(executionId, n.node_id, n.status as "ABORTED" | "SKIPPED"));
}
