/**
 * The project's executions, newest first, filtered by status and workflow (kept in the URL). The list is
 * fetched once and then kept current by `executions.watchList`, which names each execution as it starts
 * or changes status; nothing polls the server.
 */
import type { QueryClient } from "@tanstack/react-query";
import { queryOptions, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "wouter";

import { api, errorMessage } from "../api.js";
import { EmptyState, ErrorState, Loading } from "../ui/states.js";
import { durationBetween, StatusBadge, statusLabel } from "../ui/status.js";
import type { ExecutionSummary } from "../ui/types.js";
import type { ExecutionFilters } from "./execution-list.js";
import {
  EXECUTION_LISTS_KEY,
  EXECUTION_STATUSES,
  executionListKey,
  filtersOfKey,
  filtersSearch,
  hasFilters,
  LIST_LIMIT,
  mergeListedExecution,
  readFilters,
} from "./execution-list.js";
import { retryUnlessRefused } from "./retry.js";
import { TimeAgo } from "./TimeAgo.js";
import { useNowEvery } from "./use-now-every.js";
import { workflowListQuery } from "./Workflows.js";
import "./pages.css";

/** A list of the project's executions as react-query fetches it; watchList keeps every cached one current. */
export const executionListQuery = (project: string, filters: ExecutionFilters) =>
  queryOptions({
    queryKey: executionListKey(project, filters),
    queryFn: () => api.executions.list.query({ project, ...filters, limit: LIST_LIMIT }),
    retry: retryUnlessRefused,
  });

/** Applies one live update to every cached list, each by the filters it was fetched with. */
function applyToLists(queryClient: QueryClient, execution: ExecutionSummary) {
  for (const query of queryClient.getQueryCache().findAll({ queryKey: EXECUTION_LISTS_KEY })) {
    queryClient.setQueryData<readonly ExecutionSummary[]>(query.queryKey, (list) =>
      list ? mergeListedExecution(list, execution, filtersOfKey(query.queryKey)) : list,
    );
  }
}

type LiveState =
  { state: "connecting" | "live" | "reconnecting" } | { state: "stopped"; reason: string };

/** Follows the project's executions while the page is open; says whether it is following. */
function useLiveExecutions(project: string): LiveState {
  const queryClient = useQueryClient();
  const [state, setState] = useState<LiveState>({ state: "connecting" });
  useEffect(() => {
    let starts = 0;
    const subscription = api.executions.watchList.subscribe(
      { project },
      {
        onStarted: () => {
          starts += 1;
          setState({ state: "live" });
          // Updates sent while the socket was down are lost; fetch the lists again once it is back.
          if (starts > 1) void queryClient.invalidateQueries({ queryKey: EXECUTION_LISTS_KEY });
        },
        onData: ({ execution }) => applyToLists(queryClient, execution),
        onConnectionStateChange: (connection) => {
          if (connection.state === "connecting" && connection.error)
            setState({ state: "reconnecting" });
        },
        onError: (error) => setState({ state: "stopped", reason: errorMessage(error) }),
      },
    );
    return () => subscription.unsubscribe();
  }, [project, queryClient]);
  return state;
}

const LIVE_TEXT = {
  connecting: "Connecting for live updates…",
  live: "Live",
  reconnecting: "Live updates paused, reconnecting…",
} as const;

function LiveIndicator({ live }: { live: LiveState }) {
  const text =
    live.state === "stopped"
      ? `Live updates stopped (${live.reason}); reload the page to resume them.`
      : LIVE_TEXT[live.state];
  return (
    <span
      className={`live-state${live.state === "reconnecting" || live.state === "stopped" ? " off" : ""}`}
      role="status"
    >
      {text}
    </span>
  );
}

interface FiltersProps {
  filters: ExecutionFilters;
  workflows: string[];
  /** Offer "Clear filters" here; the empty state offers its own. */
  offerClear: boolean;
  onChange: (next: ExecutionFilters) => void;
}

function Filters({ filters, workflows, offerClear, onChange }: FiltersProps) {
  const statusId = useId();
  const workflowId = useId();
  const names = [...new Set([...workflows, ...(filters.workflow ? [filters.workflow] : [])])].sort(
    (a, b) => a.localeCompare(b),
  );
  return (
    <>
      <div className="filter">
        <label htmlFor={statusId}>Status</label>
        <select
          id={statusId}
          value={filters.status ?? ""}
          onChange={(e) =>
            onChange({
              ...filters,
              status: (e.target.value || undefined) as ExecutionFilters["status"],
            })
          }
        >
          <option value="">All</option>
          {EXECUTION_STATUSES.map((s) => (
            <option key={s} value={s}>
              {statusLabel(s)}
            </option>
          ))}
        </select>
      </div>
      <div className="filter">
        <label htmlFor={workflowId}>Workflow</label>
        <select
          id={workflowId}
          value={filters.workflow ?? ""}
          onChange={(e) => onChange({ ...filters, workflow: e.target.value || undefined })}
        >
          <option value="">All</option>
          {names.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      {offerClear && hasFilters(filters) && (
        <button type="button" onClick={() => onChange({})}>
          Clear filters
        </button>
      )}
    </>
  );
}

function ExecutionRow({ execution, now }: { execution: ExecutionSummary; now: number }) {
  const e = execution;
  return (
    <tr>
      <td>
        <Link href={`/executions/${encodeURIComponent(e.id)}`}>
          <code>{e.id}</code>
        </Link>
      </td>
      <td>
        <Link href={`/workflows/${encodeURIComponent(e.workflow)}`}>{e.workflow}</Link>
        {e.debugOf && (
          <span className="note">
            debug of node <code>{e.debugOf.nodeId}</code> of{" "}
            <Link href={`/executions/${encodeURIComponent(e.debugOf.executionId)}`}>
              <code>{e.debugOf.executionId}</code>
            </Link>
          </span>
        )}
      </td>
      <td className="wide">
        <code>{e.version}</code>
      </td>
      <td>
        <StatusBadge status={e.status} />
      </td>
      <td className="wide">
        <TimeAgo iso={e.createdAt} now={now} />
      </td>
      <td>{durationBetween(e.createdAt, e.endedAt, now)}</td>
    </tr>
  );
}

/** The empty list: nothing matches the filters, or nothing has run yet. */
function NoExecutions({ filters, onClear }: { filters: ExecutionFilters; onClear: () => void }) {
  return hasFilters(filters) ? (
    <EmptyState title="No executions match these filters">
      <p>
        Nothing {filters.status ? `is ${statusLabel(filters.status).toLowerCase()}` : "has run"}
        {filters.workflow ? ` for workflow ${filters.workflow}` : ""} yet.
      </p>
      <button type="button" onClick={onClear}>
        Clear filters
      </button>
    </EmptyState>
  ) : (
    <EmptyState title="No executions yet">
      <p>
        Launch one from <Link href="/workflows">Workflows</Link>, or run{" "}
        <code>pnpm drydock run --remote examples/hello/workflow.ts wf --wait</code>.
      </p>
    </EmptyState>
  );
}

function ExecutionTable({
  executions,
  now,
}: {
  executions: readonly ExecutionSummary[];
  now: number;
}) {
  return (
    <>
      <div className="table-scroll">
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Execution</th>
              <th scope="col">Workflow</th>
              <th scope="col" className="wide">
                Version
              </th>
              <th scope="col">Status</th>
              <th scope="col" className="wide">
                Started
              </th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {executions.map((e) => (
              <ExecutionRow key={e.id} execution={e} now={now} />
            ))}
          </tbody>
        </table>
      </div>
      {executions.length >= LIST_LIMIT && (
        <p className="list-foot muted">
          Showing the latest {LIST_LIMIT}; filter to find older ones.
        </p>
      )}
    </>
  );
}

export function ExecutionsPage({ project }: { project: string }) {
  const [searchParams, setSearchParams] = useSearchParams();
  const filters = readFilters(searchParams);
  // Opening the list shows it as it is now; from then on watchList keeps it current.
  const executions = useQuery({
    ...executionListQuery(project, filters),
    refetchOnMount: "always",
  });
  const workflows = useQuery(workflowListQuery(project));
  const live = useLiveExecutions(project);
  const running = executions.data?.some((e) => e.status === "RUNNING") ?? false;
  // Running durations count every second; otherwise only "… ago" moves.
  const now = useNowEvery(running ? 1_000 : 15_000);

  const setFilters = (next: ExecutionFilters) =>
    setSearchParams({ ...filtersSearch(next), project });

  let body;
  if (executions.isPending) {
    body = <Loading what="executions" />;
  } else if (executions.isError) {
    body = (
      <ErrorState
        title="The executions could not be loaded"
        message={errorMessage(executions.error)}
        retry={() => void executions.refetch()}
      />
    );
  } else if (executions.data.length === 0) {
    body = <NoExecutions filters={filters} onClear={() => setFilters({})} />;
  } else {
    body = <ExecutionTable executions={executions.data} now={now} />;
  }

  return (
    <section className="page">
      <h1>Executions</h1>
      <div className="filters" role="search" aria-label="Filter executions">
        <Filters
          filters={filters}
          workflows={(workflows.data ?? []).map((w) => w.name)}
          offerClear={!(executions.isSuccess && executions.data.length === 0)}
          onChange={setFilters}
        />
        <LiveIndicator live={live} />
      </div>
      {body}
    </section>
  );
}
