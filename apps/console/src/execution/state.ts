/**
 * The execution page's live state: `executions.watch` sends a snapshot, then changes; these pure functions
 * fold them into an ExecutionDetail, so the page never reloads or polls.
 */
import { TERMINAL_ATTEMPT_STATUSES, TERMINAL_NODE_STATUSES } from "@drydock/contracts/constants";

import type {
  Attempt,
  AttemptStatus,
  ExecutionDetail,
  ExecutionEvent,
  NodeExecution,
  NodeStatus,
} from "../ui/types.js";

type NodeEvent = Extract<ExecutionEvent, { type: "node" }>;
type SessionEvent = Extract<ExecutionEvent, { type: "session" }>;

export function isTerminalNode(status: NodeStatus): boolean {
  return TERMINAL_NODE_STATUSES.includes(status);
}

export function isTerminalAttempt(status: AttemptStatus): boolean {
  return TERMINAL_ATTEMPT_STATUSES.includes(status);
}

/** `n1[7]` → { parent: "n1", index: 7 }: how fan-out elements are named. */
export function parseElementId(nodeId: string): { parent: string; index: number } | undefined {
  const match = /^(.+)\[(\d+)\]$/.exec(nodeId);
  return match?.[1] && match[2] ? { parent: match[1], index: Number(match[2]) } : undefined;
}

/** The DAG node a node is drawn as: an element is drawn as its map node, any other node as itself. */
export function dagNodeIdOf(nodeId: string): string {
  return parseElementId(nodeId)?.parent ?? nodeId;
}

/** The attempt status a node event implies for the attempt it names; undefined when it says nothing about one. */
function attemptStatusOf(status: NodeStatus): AttemptStatus | undefined {
  switch (status) {
    case "QUEUED":
    case "RUNNING":
    case "SUCCEEDED":
    case "FAILED":
    case "ABORTED":
      return status;
    default:
      return undefined;
  }
}

/**
 * An attempt known only from an event, until `executions.node` brings the real one. Its id follows the
 * server's naming (`<execution>.<node>.a<number>`) so a session event for it finds it.
 */
export function placeholderAttempt(
  executionId: string,
  nodeId: string,
  number: number,
  at: string,
): Attempt {
  return {
    id: `${executionId}.${nodeId}.a${number}`,
    executionId,
    nodeId,
    number,
    status: "QUEUED",
    createdAt: at,
  };
}

function applyNodeEvent(node: NodeExecution, event: NodeEvent): NodeExecution {
  const next: NodeExecution = { ...node, status: event.status };
  if (event.status === "RUNNING" && !next.startedAt) next.startedAt = event.at;
  if (isTerminalNode(event.status)) next.endedAt ??= event.at;
  else if (next.endedAt) delete next.endedAt;
  // A QUEUED event's error is why the previous attempt ended (a retry follows); only a final one is the node's.
  if (event.error && event.status !== "QUEUED") next.error = event.error;
  if (event.reused) next.reused = event.reused;

  let attempts = node.attempts;
  const number =
    event.attempt ?? (event.status === "ABORTED" ? attempts.at(-1)?.number : undefined);
  if (number !== undefined) {
    const index = attempts.findIndex((a) => a.number === number);
    const current =
      index >= 0
        ? attempts[index]
        : placeholderAttempt(node.executionId, node.nodeId, number, event.at);
    const status = attemptStatusOf(event.status);
    let attempt = current;
    if (current && status && !(event.status === "ABORTED" && isTerminalAttempt(current.status))) {
      attempt = { ...current, status };
      if (status === "RUNNING" && !attempt.startedAt) attempt.startedAt = event.at;
      if (isTerminalAttempt(status)) attempt.endedAt ??= event.at;
      if (event.error && status !== "QUEUED") attempt.error = event.error;
    }
    if (attempt) {
      attempts =
        index >= 0
          ? attempts.map((a, i) => (i === index ? attempt : a))
          : [...attempts, attempt].sort((a, b) => a.number - b.number);
    }
    if (event.status === "QUEUED" && event.error && number > 1) {
      attempts = attempts.map((a) =>
        a.number === number - 1 && !a.error ? { ...a, error: event.error } : a,
      );
    }
  }
  next.attempts = attempts;
  return next;
}

function applySessionEvent(node: NodeExecution, event: SessionEvent): NodeExecution {
  let index = node.attempts.findIndex((a) => a.id === event.attemptId);
  // Sessions belong to the live attempt; an attempt seen only through events may not carry the real id yet.
  if (index < 0 && node.attempts.length > 0) index = node.attempts.length - 1;
  if (index < 0) return node;
  const attempts = node.attempts.map((a, i) =>
    i === index ? { ...a, id: event.attemptId, session: event.session } : a,
  );
  return { ...node, attempts };
}

/** A node the snapshot did not have: a fan-out element created after it, or a node of a newer snapshot. */
function newNode(
  detail: ExecutionDetail,
  byId: Map<string, number>,
  nodes: NodeExecution[],
  nodeId: string,
): NodeExecution {
  const element = parseElementId(nodeId);
  const parentIndex = element ? byId.get(element.parent) : undefined;
  const parent = parentIndex === undefined ? undefined : nodes[parentIndex];
  return {
    executionId: detail.execution.id,
    nodeId,
    task: parent?.task ?? "",
    ...(element ? { parentNodeId: element.parent, mapIndex: element.index } : {}),
    status: "PENDING",
    attempts: [],
  };
}

/**
 * Folds events into the detail, in order. Pure: the detail given is not changed; unchanged nodes keep
 * their identity, so memoised views of them do not re-render. Events before the first snapshot, or for
 * another execution, are ignored.
 */
export function applyEvents(
  detail: ExecutionDetail | undefined,
  events: readonly ExecutionEvent[],
): ExecutionDetail | undefined {
  let current = detail;
  let nodes: NodeExecution[] | undefined;
  let byId: Map<string, number> | undefined;
  const index = (d: ExecutionDetail) => {
    if (!nodes || !byId) {
      nodes = [...d.nodes];
      byId = new Map(nodes.map((n, i) => [n.nodeId, i]));
    }
    return { nodes, byId };
  };
  for (const event of events) {
    if (event.type === "snapshot") {
      current = event.detail;
      nodes = undefined;
      byId = undefined;
      continue;
    }
    if (!current || event.executionId !== current.execution.id) continue;
    if (event.type === "execution") {
      const execution = { ...current.execution, status: event.status };
      if (event.status !== "RUNNING") execution.endedAt ??= event.at;
      if (event.result !== undefined) execution.result = event.result;
      if (event.error) execution.error = event.error;
      current = { ...current, execution, nodes: nodes ?? current.nodes };
      continue;
    }
    const work = index(current);
    let at = work.byId.get(event.nodeId);
    if (at === undefined) {
      if (event.type === "session") continue;
      at = work.nodes.length;
      work.nodes.push(newNode(current, work.byId, work.nodes, event.nodeId));
      work.byId.set(event.nodeId, at);
    }
    const node = work.nodes[at];
    if (!node) continue;
    work.nodes[at] =
      event.type === "node" ? applyNodeEvent(node, event) : applySessionEvent(node, event);
    current = { ...current, nodes: work.nodes };
  }
  return current;
}

/** One event: `applyEvents(detail, [event])`. */
export function applyEvent(
  detail: ExecutionDetail | undefined,
  event: ExecutionEvent,
): ExecutionDetail | undefined {
  return applyEvents(detail, [event]);
}

/**
 * The task pane's view of a node: the live node (moved by events) merged with the one `executions.node`
 * returned (inputs, outputs, real attempt ids). Status, times and sessions come from the live one, which is
 * never older; attempts only one of them knows are kept, and so is a resume record either one has.
 */
export function mergeNodeViews(
  live: NodeExecution | undefined,
  fetched: NodeExecution | undefined,
): NodeExecution | undefined {
  if (!live || !fetched) return live ?? fetched;
  const byNumber = new Map<number, Attempt>(fetched.attempts.map((a) => [a.number, a]));
  for (const a of live.attempts) {
    const known = byNumber.get(a.number);
    if (!known) {
      byNumber.set(a.number, a);
      continue;
    }
    const session = a.session ?? known.session;
    const resume = known.resume ?? a.resume;
    byNumber.set(a.number, {
      ...known,
      status: a.status,
      ...((a.startedAt ?? known.startedAt) ? { startedAt: a.startedAt ?? known.startedAt } : {}),
      ...((a.endedAt ?? known.endedAt) ? { endedAt: a.endedAt ?? known.endedAt } : {}),
      ...((known.error ?? a.error) ? { error: known.error ?? a.error } : {}),
      ...(session ? { session } : {}),
      ...(resume ? { resume } : {}),
    });
  }
  const merged: NodeExecution = {
    ...fetched,
    status: live.status,
    attempts: [...byNumber.values()].sort((a, b) => a.number - b.number),
  };
  const startedAt = live.startedAt ?? fetched.startedAt;
  const endedAt = live.endedAt ?? (isTerminalNode(live.status) ? fetched.endedAt : undefined);
  const error = fetched.error ?? live.error;
  if (startedAt) merged.startedAt = startedAt;
  else delete merged.startedAt;
  if (endedAt) merged.endedAt = endedAt;
  else delete merged.endedAt;
  if (error) merged.error = error;
  if (live.outputs !== undefined && fetched.outputs === undefined) merged.outputs = live.outputs;
  // The event that marked it reused can arrive before the fetch that would have it.
  if (live.reused && !fetched.reused) merged.reused = live.reused;
  if (live.inputs && !fetched.inputs) merged.inputs = live.inputs;
  return merged;
}
