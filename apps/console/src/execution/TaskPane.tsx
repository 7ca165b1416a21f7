/**
 * The task pane: one node of the execution — status, attempts, inputs, outputs, error, live logs, its VS Code
 * session — and what can be done with it (Debug, Download changes). A map node lists its elements instead.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { useLocation } from "wouter";

import { api, appCode, errorMessage } from "../api.js";
import { durationBetween, StatusBadge } from "../ui/status.js";
import type { Attempt, ExecutionDetail, NodeExecution } from "../ui/types.js";
import { ErrorBlock, JsonBlock } from "./blocks.js";
import { useSharedClock } from "./shared-clock.js";
import { describeFanout, elementsOf } from "./fanout.js";
import type { FanoutSummary } from "./fanout.js";
import type { DagNode } from "./graph.js";
import { LogView } from "./LogView.js";
import { canDebug, hadSession, latestSession, patchFileName } from "./session.js";
import { SessionPanel } from "./SessionPanel.js";
import { mergeNodeViews, parseElementId } from "./state.js";

/** The query key of `executions.node`, so the page can refetch it when the node's events arrive. */
export function nodeQueryKey(executionId: string, nodeId: string) {
  return ["execution-node", executionId, nodeId] as const;
}

/** The elements shown at first; a fan-out of thousands lists the rest on request. */
const ELEMENTS_SHOWN = 200;

function formatTime(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleTimeString() : "–";
}

function Attempts({
  attempts,
  shown,
  onShow,
  now,
}: {
  attempts: Attempt[];
  shown: string | undefined;
  onShow: (id: string) => void;
  now: number;
}) {
  return (
    <table className="list attempts">
      <caption className="visually-hidden">Attempts</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Status</th>
          <th scope="col">Ran</th>
          <th scope="col">Took</th>
          <th scope="col">Logs</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a) => (
          <tr key={a.number} data-testid={`attempt-${a.number}`}>
            <td>{a.number}</td>
            <td>
              <StatusBadge status={a.status} />
              {a.error && <div className="attempt-error">{a.error.message}</div>}
            </td>
            <td>
              {formatTime(a.startedAt)}
              {a.endedAt ? ` – ${formatTime(a.endedAt)}` : ""}
            </td>
            <td>{a.startedAt ? durationBetween(a.startedAt, a.endedAt, now) : "–"}</td>
            <td>
              {shown === a.id ? (
                <span className="muted">shown</span>
              ) : (
                <button type="button" className="link" onClick={() => onShow(a.id)}>
                  Show logs
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Elements({
  elements,
  summary,
  onSelect,
}: {
  elements: NodeExecution[];
  summary: FanoutSummary | undefined;
  onSelect: (id: string) => void;
}) {
  const [all, setAll] = useState(false);
  const shown = all ? elements : elements.slice(0, ELEMENTS_SHOWN);
  return (
    <section className="pane-section" aria-label="Elements">
      <h3>Elements</h3>
      <p data-testid="fanout-summary">{describeFanout(summary)}</p>
      {elements.length > 0 && (
        <ul className="element-list">
          {shown.map((e) => (
            <li key={e.nodeId}>
              <button
                type="button"
                className="element"
                data-testid={`element-${e.nodeId}`}
                data-status={e.status}
                onClick={() => onSelect(e.nodeId)}
              >
                <code>{e.nodeId}</code> <StatusBadge status={e.status} />
              </button>
            </li>
          ))}
        </ul>
      )}
      {!all && elements.length > ELEMENTS_SHOWN && (
        <button type="button" onClick={() => setAll(true)}>
          Show all {elements.length} elements
        </button>
      )}
    </section>
  );
}

function DownloadChanges({ executionId, nodeId }: { executionId: string; nodeId: string }) {
  const changes = useMutation({
    mutationFn: () => api.sessions.changes.query({ executionId, nodeId }),
    onSuccess: ({ patch }) => {
      if (!patch) return;
      const url = URL.createObjectURL(new Blob([patch], { type: "text/x-diff" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = patchFileName(executionId, nodeId);
      document.body.append(a);
      a.click();
      a.remove();
      // Revoked a little later: the download may still be reading it.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  });
  return (
    <div className="changes">
      <button type="button" onClick={() => changes.mutate()} disabled={changes.isPending}>
        Download changes
      </button>
      {changes.isSuccess && !changes.data.patch && (
        <p role="status">No changes were made in the IDE.</p>
      )}
      {changes.isSuccess && changes.data.patch && (
        <>
          <p role="status">
            Downloaded {patchFileName(executionId, nodeId)}. Apply it to your checkout with git
            apply.
          </p>
          <pre
            className="node-changes"
            data-testid="node-changes"
            tabIndex={0}
            aria-label="Changes made in the IDE"
          >
            {changes.data.patch}
          </pre>
        </>
      )}
      {changes.isError && (
        <p className="inline-error" role="alert">
          Could not get the changes: {errorMessage(changes.error)}
        </p>
      )}
    </div>
  );
}

function DebugButton({ executionId, nodeId }: { executionId: string; nodeId: string }) {
  const [, navigate] = useLocation();
  const debug = useMutation({
    mutationFn: () => api.executions.debug.mutate({ executionId, nodeId }),
    onSuccess: (execution) =>
      navigate(
        `/executions/${encodeURIComponent(execution.id)}?node=${encodeURIComponent(nodeId)}`,
      ),
  });
  return (
    <>
      <button
        type="button"
        onClick={() => debug.mutate()}
        disabled={debug.isPending}
        title="Re-run this node with the inputs it had, in VS Code"
      >
        Debug
      </button>
      {debug.isError && (
        <p className="inline-error" role="alert">
          Could not start a debug run: {errorMessage(debug.error)}
        </p>
      )}
    </>
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
  const live = useMemo(() => detail.nodes.find((n) => n.nodeId === nodeId), [detail.nodes, nodeId]);
  const fetched = useQuery({
    queryKey: nodeQueryKey(executionId, nodeId),
    queryFn: () => api.executions.node.query({ executionId, nodeId }),
    retry: (count, error) => appCode(error) !== "NODE_NOT_FOUND" && count < 2,
  });
  const node = mergeNodeViews(live, fetched.data);
  const element = parseElementId(nodeId);
  const isMap = dagNode?.kind === "map" && !element;
  const running = node?.status === "RUNNING";
  const now = useSharedClock(running);
  const [logsOf, setLogsOf] = useState<string>();
  const latest = node?.attempts.at(-1);
  const shownAttempt = node?.attempts.find((a) => a.id === logsOf) ?? latest;
  const session = latestSession(node);
  const elements = useMemo(
    () => (isMap ? elementsOf(detail, nodeId) : []),
    [detail, nodeId, isMap],
  );

  useEffect(() => {
    setLogsOf(undefined);
  }, [nodeId]);

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

  const title = node?.task || dagNode?.task || nodeId;
  return (
    <aside className="task-pane" data-testid="task-pane" aria-label={`Task ${nodeId}`}>
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
      {!node && fetched.isPending && <p className="muted">Loading {nodeId}…</p>}
      {!node && fetched.isError && (
        <p className="inline-error" role="alert">
          {appCode(fetched.error) === "NODE_NOT_FOUND"
            ? `This execution has no node ${nodeId}.`
            : errorMessage(fetched.error)}
        </p>
      )}
      {node && (
        <>
          <div className="pane-status">
            <span data-testid="node-status" data-status={node.status}>
              <StatusBadge status={node.status} />
            </span>
            {dagNode?.interactive && <span className="vscode-marker">VS Code</span>}
            <span className="muted">
              {node.startedAt
                ? `Started ${formatTime(node.startedAt)} · ${node.endedAt ? "took" : "running for"} ${durationBetween(node.startedAt, node.endedAt, now)}`
                : "Not started yet"}
            </span>
          </div>
          {element && (
            <p className="pane-parent">
              Element {element.index} of{" "}
              <button type="button" className="link" onClick={() => onSelect(element.parent)}>
                {element.parent}
              </button>
            </p>
          )}
          {session && <SessionPanel executionId={executionId} nodeId={nodeId} session={session} />}
          {(canDebug(node, isMap) || hadSession(node)) && (
            <div className="pane-actions">
              {canDebug(node, isMap) && <DebugButton executionId={executionId} nodeId={nodeId} />}
              {hadSession(node) && <DownloadChanges executionId={executionId} nodeId={nodeId} />}
            </div>
          )}
          {node.error && (
            <section className="pane-section">
              <ErrorBlock error={node.error} title="Error" testId="node-error" />
            </section>
          )}
          {isMap && <Elements elements={elements} summary={fanout} onSelect={onSelect} />}
          {!isMap && node.attempts.length > 0 && (
            <section className="pane-section" aria-label="Attempts">
              <h3>Attempts</h3>
              <Attempts
                attempts={node.attempts}
                shown={shownAttempt?.id}
                onShow={setLogsOf}
                now={now}
              />
            </section>
          )}
          <section className="pane-section" aria-label="Inputs">
            <h3>Inputs</h3>
            {node.inputs ? (
              <JsonBlock value={node.inputs} testId="node-inputs" label="Node inputs" />
            ) : (
              <p data-testid="node-inputs" className="muted">
                {fetched.isPending
                  ? "Loading…"
                  : isMap
                    ? "Each element has its own inputs: select one above."
                    : "No inputs yet: the node has not been given them."}
              </p>
            )}
          </section>
          <section className="pane-section" aria-label="Outputs">
            <h3>Outputs</h3>
            {node.outputs !== undefined ? (
              <JsonBlock value={node.outputs} testId="node-outputs" label="Node outputs" />
            ) : (
              <p data-testid="node-outputs" className="muted">
                No outputs yet
              </p>
            )}
          </section>
          {!isMap && shownAttempt && (
            <section className="pane-section" aria-label="Logs">
              <h3>Logs{node.attempts.length > 1 ? ` of attempt ${shownAttempt.number}` : ""}</h3>
              <LogView
                key={shownAttempt.id}
                attemptId={shownAttempt.id}
                lost={shownAttempt.logLost}
              />
            </section>
          )}
        </>
      )}
    </aside>
  );
}
