/**
 * The task pane: one node of the execution — status, attempts, inputs, outputs, error, live logs, its VS Code
 * session — and what can be done with it (Debug, Fork with edits, Download changes). A map node lists its
 * elements instead; a node that reused outputs says where they came from instead of listing attempts.
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link } from "wouter";

import { api, appCode, errorMessage } from "../api.js";
import { durationBetween, StatusBadge } from "../ui/status.js";
import type { ExecutionDetail, NodeExecution, NodeReuse } from "../ui/types.js";
import { AttemptLogs, AttemptsSection } from "./Attempts.js";
import { ElementList } from "./ElementList.js";
import { useSharedClock } from "./shared-clock.js";
import type { FanoutSummary } from "./fanout.js";
import type { DagNode } from "./graph.js";
import { executionHref, reusePhrase } from "./lineage.js";
import { NodeActions } from "./NodeActions.js";
import { NodeError, NodeInputs, NodeOutputs } from "./NodeData.js";
import { latestSession } from "./session.js";
import { SessionPanel } from "./SessionPanel.js";
import { mergeNodeViews, parseElementId } from "./state.js";
import { formatTimeOfDay } from "./time-of-day.js";

/** The query key of `executions.node`, so the page can refetch it when the node's events arrive. */
export function nodeQueryKey(executionId: string, nodeId: string) {
  return ["execution-node", executionId, nodeId] as const;
}

/** The node as the watch has it, completed by `executions.node` (node events carry no inputs or outputs). */
function useTaskNode(detail: ExecutionDetail, nodeId: string) {
  const executionId = detail.execution.id;
  const live = useMemo(() => detail.nodes.find((n) => n.nodeId === nodeId), [detail.nodes, nodeId]);
  const fetched = useQuery({
    queryKey: nodeQueryKey(executionId, nodeId),
    queryFn: () => api.executions.node.query({ executionId, nodeId }),
    retry: (count, error) => appCode(error) !== "NODE_NOT_FOUND" && count < 2,
  });
  return { node: mergeNodeViews(live, fetched.data), fetched };
}

function useEscapeToClose(onClose: () => void) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      // Escape in a dialog closes the dialog, not the pane.
      if (
        document.querySelector("dialog[open]") ||
        (event.target instanceof Element && event.target.closest("dialog"))
      )
        return;
      onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);
}

function PaneHead({
  title,
  nodeId,
  onClose,
}: {
  title: string;
  nodeId: string;
  onClose: () => void;
}) {
  return (
    <div className="pane-head">
      <h2>
        {title} <code className="pane-node-id">{nodeId}</code>
      </h2>
      <button
        type="button"
        className="pane-close"
        onClick={onClose}
        aria-label="Close the task pane"
        title="Close (Escape)"
      >
        ✕
      </button>
    </div>
  );
}

/** While the node is known neither from the watch nor from its own query: loading, or why it cannot be. */
function NodeLoadState({
  nodeId,
  fetched,
}: {
  nodeId: string;
  fetched: { isPending: boolean; isError: boolean; error: unknown };
}) {
  if (fetched.isPending) return <p className="muted">Loading {nodeId}…</p>;
  if (!fetched.isError) return null;
  return (
    <p className="inline-error" role="alert">
      {appCode(fetched.error) === "NODE_NOT_FOUND"
        ? `This execution has no node ${nodeId}.`
        : errorMessage(fetched.error)}
    </p>
  );
}

function NodeStatusLine({
  node,
  interactive,
  now,
}: {
  node: NodeExecution;
  interactive: boolean;
  now: number;
}) {
  return (
    <div className="pane-status">
      <span data-testid="node-status" data-status={node.status}>
        <StatusBadge status={node.status} />
      </span>
      {interactive && <span className="vscode-marker">VS Code</span>}
      {(node.startedAt || !node.reused) && (
        <span className="muted">
          {node.startedAt
            ? `Started ${formatTimeOfDay(node.startedAt)} · ${node.endedAt ? "took" : "running for"} ${durationBetween(node.startedAt, node.endedAt, now)}`
            : "Not started yet"}
        </span>
      )}
    </div>
  );
}

/** "Not run: outputs reused from execution x0 node n1", the run that made the outputs linked. */
function ReusedNote({ reused }: { reused: NodeReuse }) {
  return (
    <p className="node-reused" data-testid="node-reused" data-reused={reused.from}>
      Not run: {reusePhrase(reused)}{" "}
      <Link href={executionHref(reused.executionId, reused.nodeId)}>{reused.executionId}</Link> node{" "}
      {reused.nodeId}
    </p>
  );
}

function ElementParent({
  index,
  parent,
  onSelect,
}: {
  index: number;
  parent: string;
  onSelect: (nodeId: string) => void;
}) {
  return (
    <p className="pane-parent">
      Element {index} of{" "}
      <button type="button" className="link" onClick={() => onSelect(parent)}>
        {parent}
      </button>
    </p>
  );
}

export interface TaskPaneProps {
  detail: ExecutionDetail;
  nodeId: string;
  /** The DAG node (for an element: its map node). */
  dagNode: DagNode | undefined;
  fanout: FanoutSummary | undefined;
  onSelect: (nodeId: string) => void;
  onClose: () => void;
}

export function TaskPane({ detail, nodeId, dagNode, fanout, onSelect, onClose }: TaskPaneProps) {
  const executionId = detail.execution.id;
  const { node, fetched } = useTaskNode(detail, nodeId);
  const element = parseElementId(nodeId);
  const isMap = dagNode?.kind === "map" && !element;
  const now = useSharedClock(node?.status === "RUNNING");
  const [logsOf, setLogsOf] = useState<string>();
  const shownAttempt = node?.attempts.find((a) => a.id === logsOf) ?? node?.attempts.at(-1);
  const session = latestSession(node);

  useEffect(() => {
    setLogsOf(undefined);
  }, [nodeId]);
  useEscapeToClose(onClose);

  return (
    <aside className="task-pane" data-testid="task-pane" aria-label={`Task ${nodeId}`}>
      <PaneHead title={node?.task || dagNode?.task || nodeId} nodeId={nodeId} onClose={onClose} />
      {!node && <NodeLoadState nodeId={nodeId} fetched={fetched} />}
      {node && (
        <>
          <NodeStatusLine node={node} interactive={Boolean(dagNode?.interactive)} now={now} />
          {node.reused && <ReusedNote reused={node.reused} />}
          {element && (
            <ElementParent index={element.index} parent={element.parent} onSelect={onSelect} />
          )}
          {session && (
            <SessionPanel
              executionId={executionId}
              nodeId={nodeId}
              session={session}
              resume={node.attempts.at(-1)?.resume}
              project={detail.execution.project}
              owner={detail.execution.createdBy}
            />
          )}
          <NodeActions
            executionId={executionId}
            nodeId={nodeId}
            node={node}
            isMap={isMap}
            project={detail.execution.project}
            executionStatus={detail.execution.status}
          />
          {node.error && <NodeError error={node.error} />}
          {isMap && (
            <ElementList detail={detail} mapNodeId={nodeId} summary={fanout} onSelect={onSelect} />
          )}
          {!isMap && !node.reused && node.attempts.length > 0 && (
            <AttemptsSection
              attempts={node.attempts}
              shown={shownAttempt?.id}
              onShow={setLogsOf}
              now={now}
            />
          )}
          <NodeInputs inputs={node.inputs} loading={fetched.isPending} isMap={isMap} />
          <NodeOutputs outputs={node.outputs} />
          {!isMap && !node.reused && shownAttempt && (
            <AttemptLogs attempt={shownAttempt} numbered={node.attempts.length > 1} />
          )}
        </>
      )}
    </aside>
  );
}
