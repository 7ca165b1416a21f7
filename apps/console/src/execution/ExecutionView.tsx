/**
 * The execution page: header, DAG and task pane, kept live by `executions.watch` (no polling, no reloads).
 * The selected node lives in the URL (`?node=n3`), so the pane survives a reload and can be linked.
 */
import "./execution.css";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { ComponentType } from "react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "wouter";

import { api, appCode, errorMessage } from "../api.js";
import { ErrorState, Loading } from "../ui/states.js";
import type { Execution, ExecutionDetail, ExecutionEvent, NodeExecution } from "../ui/types.js";
import type { DagProps } from "./Dag.js";
import { ExecutionHeader } from "./ExecutionHeader.js";
import { fanoutSummaries } from "./fanout.js";
import { executionDag } from "./graph.js";
import { layoutDag } from "./layout.js";
import { parseElementId } from "./state.js";
import { nodeQueryKey, TaskPane } from "./TaskPane.js";
import { useExecutionWatch } from "./useExecutionWatch.js";

let loadedDag: ComponentType<DagProps> | undefined;
const loadDag = () =>
  import("./Dag.js").then((m) => {
    loadedDag = m.default;
    return m.default;
  });

/**
 * The DAG component, loaded on its own. Not React.lazy: React holds back a resolved Suspense boundary for up to
 * 300 ms to batch reveals, which would be most of the 1 s the page has to draw 1,000 nodes.
 */
function useDagComponent(): { Dag: ComponentType<DagProps> | undefined; error: unknown } {
  const [state, setState] = useState<{ Dag: ComponentType<DagProps> | undefined; error: unknown }>({
    Dag: loadedDag,
    error: undefined,
  });
  useEffect(() => {
    if (state.Dag) return;
    let live = true;
    loadDag().then(
      (Dag) => live && setState({ Dag, error: undefined }),
      (error: unknown) => live && setState({ Dag: undefined, error }),
    );
    return () => {
      live = false;
    };
  }, [state.Dag]);
  return state;
}

/** The registered workflow version an execution ran: its spec gives the DAG. A version never changes. */
function workflowQuery(execution: Pick<Execution, "project" | "workflow" | "version"> | undefined) {
  return {
    queryKey: [
      "workflow-version",
      execution?.project,
      execution?.workflow,
      execution?.version,
    ] as const,
    queryFn: () =>
      api.workflows.get.query({
        project: execution?.project ?? "",
        name: execution?.workflow ?? "",
        version: execution?.version ?? "",
      }),
    staleTime: Infinity,
  };
}

/** What decides the DAG's shape: which nodes there are, and which held a session (they get the VS Code mark). */
function shapeKey(nodes: readonly NodeExecution[]): string {
  let key = "";
  for (const n of nodes)
    if (!n.parentNodeId) key += `${n.nodeId}${n.attempts.some((a) => a.session) ? "*" : ""},`;
  return key;
}

export function ExecutionView({ id }: { id: string }) {
  const queryClient = useQueryClient();
  const [search, setSearch] = useSearchParams();
  const selected = search.get("node") ?? undefined;
  const selectedRef = useRef(selected);
  useEffect(() => {
    selectedRef.current = selected;
  }, [selected]);

  // The DAG's code downloads while the execution does.
  const { Dag, error: dagError } = useDagComponent();

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
  const { detail, error, retry } = useExecutionWatch(id, onEvents, onSnapshot);
  const execution = detail?.execution;
  const workflow = useQuery({ ...workflowQuery(execution), enabled: Boolean(execution) });

  const nodes = detail?.nodes;
  const shape = nodes ? shapeKey(nodes) : "";
  const debugOf = execution?.debugOf;
  const graph = useMemo(
    () =>
      detail && !workflow.isPending
        ? executionDag(detail, workflow.data?.spec, workflow.data?.tasks)
        : undefined,
    // Rebuilt when the shape changes, not on every status change (`detail` is left out on purpose).
    [shape, debugOf, workflow.data, workflow.isPending],
  );
  const layoutKey = graph
    ? `${graph.nodes.map((n) => n.id).join(",")}|${graph.edges.map((e) => `${e.source}>${e.target}`).join(",")}`
    : "";
  // Laid out again only when nodes or edges change, not when a node merely gains its VS Code mark.
  const layout = useMemo(() => (graph ? layoutDag(graph) : undefined), [layoutKey]);
  const topLevel = useMemo(
    () => new Map((nodes ?? []).filter((n) => !n.parentNodeId).map((n) => [n.nodeId, n])),
    [nodes],
  );
  const fanouts = useMemo(() => fanoutSummaries(detail), [detail]);

  const select = useCallback(
    (nodeId: string) => {
      setSearch({ node: nodeId }, { replace: true });
      // On a narrow window the pane sits below the DAG: bring it into view.
      if (window.matchMedia("(max-width: 1023px)").matches) {
        requestAnimationFrame(() =>
          document
            .querySelector('[data-testid="task-pane"]')
            ?.scrollIntoView({ block: "start", behavior: "smooth" }),
        );
      }
    },
    [setSearch],
  );
  const close = useCallback(() => {
    const was = selectedRef.current;
    setSearch({}, { replace: true });
    // Back to the node the pane was about, for keyboard users.
    const dagId = was ? (parseElementId(was)?.parent ?? was) : undefined;
    if (dagId)
      document.querySelector<HTMLElement>(`[data-testid="dag-node-${CSS.escape(dagId)}"]`)?.focus();
  }, [setSearch]);

  if (!detail) {
    if (error) {
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
    return <Loading what={`execution ${id}`} />;
  }

  const dagNodeId = selected ? (parseElementId(selected)?.parent ?? selected) : undefined;
  const dagNode = graph?.nodes.find((n) => n.id === dagNodeId);
  return (
    <div className="execution-page">
      <ExecutionHeader execution={detail.execution} />
      {error !== undefined && (
        <div className="inline-error live-lost" role="alert">
          Live updates stopped: {errorMessage(error)}{" "}
          <button type="button" onClick={retry}>
            Reconnect
          </button>
        </div>
      )}
      <div className={`execution-body${selected ? " with-pane" : ""}`}>
        <section className="dag-area" aria-label="DAG">
          {workflow.isError && !detail.execution.debugOf && (
            <p className="muted dag-note">
              The workflow&apos;s DAG could not be loaded ({errorMessage(workflow.error)}); its
              nodes are shown without their edges.
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
              <Dag
                graph={graph}
                layout={layout}
                nodes={topLevel}
                fanouts={fanouts}
                selected={selected}
                onSelect={select}
              />
            )
          ) : (
            <Loading what="the DAG" />
          )}
        </section>
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
