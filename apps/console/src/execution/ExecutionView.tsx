/**
 * The execution page: header, DAG and task pane, kept live by `executions.watch` (no polling, no reloads).
 * The selected node lives in the URL (`?node=n3`), so the pane survives a reload and can be linked.
 */
import "./execution.css";

import { useQueryClient } from "@tanstack/react-query";
import type { ComponentType } from "react";
import { useCallback } from "react";
import { Link } from "wouter";

import { appCode, errorMessage } from "../api.js";
import { ErrorState, Loading } from "../ui/states.js";
import type { ExecutionDetail, ExecutionEvent } from "../ui/types.js";
import type { DagProps } from "./Dag.js";
import { ExecutionHeader } from "./ExecutionHeader.js";
import type { DagGraph } from "./graph.js";
import type { DagLayout } from "./layout.js";
import { dagNodeIdOf } from "./state.js";
import { nodeQueryKey, TaskPane } from "./TaskPane.js";
import { useDagComponent } from "./useDagComponent.js";
import { useExecutionGraph, workflowQuery } from "./useExecutionGraph.js";
import { useExecutionWatch } from "./useExecutionWatch.js";
import { useNodeSelection } from "./useNodeSelection.js";

/** The watched execution; the selected node's own query is refetched when its events arrive. */
function useLiveExecution(id: string, selectedRef: { readonly current: string | undefined }) {
  const queryClient = useQueryClient();
  const onEvents = useCallback(
    (events: readonly ExecutionEvent[]) => {
      const nodeId = selectedRef.current;
      if (!nodeId) return;
      // Node events carry no outputs or inputs: the pane's node is fetched again when it changes.
      if (
        events.some(
          (e) =>
            e.type === "snapshot" ||
            ((e.type === "node" || e.type === "session") && e.nodeId === nodeId),
        )
      ) {
        void queryClient.invalidateQueries({ queryKey: nodeQueryKey(id, nodeId) });
      }
    },
    [id, queryClient],
  );
  // The spec is asked for the moment the snapshot names it, not a frame later when the page renders.
  const onSnapshot = useCallback(
    (snapshot: ExecutionDetail) =>
      void queryClient.prefetchQuery(workflowQuery(snapshot.execution)),
    [queryClient],
  );
  return useExecutionWatch(id, onEvents, onSnapshot);
}

/** The page before the execution's first snapshot: loading, or why it cannot be shown. */
function ExecutionUnavailable({
  id,
  error,
  retry,
}: {
  id: string;
  error: unknown;
  retry: () => void;
}) {
  if (!error) return <Loading what={`execution ${id}`} />;
  if (appCode(error) === "EXECUTION_NOT_FOUND") {
    return (
      <div className="state error" role="alert">
        <h2>No execution {id}</h2>
        <p>
          It may have been typed wrong, or it belongs to another Drydock server.{" "}
          <Link href="/executions">Back to Executions</Link>
        </p>
      </div>
    );
  }
  return (
    <ErrorState
      title={`Execution ${id} could not be loaded`}
      message={errorMessage(error)}
      retry={retry}
    />
  );
}

function LiveUpdatesLost({ error, retry }: { error: unknown; retry: () => void }) {
  return (
    <div className="inline-error live-lost" role="alert">
      Live updates stopped: {errorMessage(error)}{" "}
      <button type="button" onClick={retry}>
        Reconnect
      </button>
    </div>
  );
}

interface DagAreaProps extends Omit<DagProps, "graph" | "layout"> {
  Dag: ComponentType<DagProps> | undefined;
  /** Why the DAG's code could not be loaded. */
  dagError: unknown;
  /** Why the workflow's spec could not be had, when the DAG needs it for its edges. */
  specError: unknown;
  graph: DagGraph | undefined;
  layout: DagLayout | undefined;
}

function DagArea({ Dag, dagError, specError, graph, layout, ...dagProps }: DagAreaProps) {
  return (
    <section className="dag-area" aria-label="DAG">
      {specError !== undefined && (
        <p className="muted dag-note">
          The workflow&apos;s DAG could not be loaded ({errorMessage(specError)}); its nodes are
          shown without their edges.
        </p>
      )}
      {dagError !== undefined ? (
        <ErrorState
          title="The DAG could not be drawn"
          message={`${errorMessage(dagError)}. Reload the page: the console may have been updated.`}
        />
      ) : graph && layout && Dag ? (
        graph.nodes.length === 0 ? (
          <p className="muted dag-note">This workflow has no task nodes.</p>
        ) : (
          <Dag graph={graph} layout={layout} {...dagProps} />
        )
      ) : (
        <Loading what="the DAG" />
      )}
    </section>
  );
}

export function ExecutionView({ id }: { id: string }) {
  const { selected, selectedRef, select, close } = useNodeSelection();
  // The DAG's code downloads while the execution does.
  const { Dag, error: dagError } = useDagComponent();
  const { detail, error, retry } = useLiveExecution(id, selectedRef);
  const { workflow, graph, layout, topLevel, fanouts } = useExecutionGraph(detail);

  if (!detail) return <ExecutionUnavailable id={id} error={error} retry={retry} />;

  const dagNodeId = selected ? dagNodeIdOf(selected) : undefined;
  const dagNode = graph?.nodes.find((n) => n.id === dagNodeId);
  return (
    <div className="execution-page">
      <ExecutionHeader execution={detail.execution} nodes={detail.nodes} />
      {error !== undefined && <LiveUpdatesLost error={error} retry={retry} />}
      <div className={`execution-body${selected ? " with-pane" : ""}`}>
        <DagArea
          Dag={Dag}
          dagError={dagError}
          specError={workflow.isError && !detail.execution.debugOf ? workflow.error : undefined}
          graph={graph}
          layout={layout}
          nodes={topLevel}
          fanouts={fanouts}
          selected={selected}
          onSelect={select}
        />
        {selected && (
          <TaskPane
            detail={detail}
            nodeId={selected}
            dagNode={dagNode}
            fanout={dagNodeId ? fanouts.get(dagNodeId) : undefined}
            onSelect={select}
            onClose={close}
          />
        )}
      </div>
    </div>
  );
}
