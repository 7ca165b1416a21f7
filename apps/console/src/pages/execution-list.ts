/**
 * The executions list's model: its filters (kept in the URL, so a filtered list survives reload and can be
 * shared), its react-query key, and how one live update from `executions.watchList` changes a cached list.
 */
import type { ExecutionStatus, ExecutionSummary } from "../ui/types.js";

export const EXECUTION_STATUSES = [
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "ABORTED",
] as const satisfies readonly ExecutionStatus[];

/** How many executions the list asks for; the newest come first. */
export const LIST_LIMIT = 100;

export interface ExecutionFilters {
  status?: ExecutionStatus;
  workflow?: string;
}

/** The filters a URL's search holds; values the server would refuse (an unknown status) are dropped. */
export function readFilters(search: URLSearchParams): ExecutionFilters {
  const filters: ExecutionFilters = {};
  const status = search.get("status");
  const workflow = search.get("workflow");
  if (status && (EXECUTION_STATUSES as readonly string[]).includes(status))
    filters.status = status as ExecutionStatus;
  if (workflow) filters.workflow = workflow;
  return filters;
}

/** The search for a set of filters, without the empty ones (`?status=FAILED&workflow=wf`). */
export function filtersSearch(filters: ExecutionFilters): Record<string, string> {
  const search: Record<string, string> = {};
  if (filters.status) search.status = filters.status;
  if (filters.workflow) search.workflow = filters.workflow;
  return search;
}

export function hasFilters(filters: ExecutionFilters): boolean {
  return Boolean(filters.status ?? filters.workflow);
}

export function matchesFilters(execution: ExecutionSummary, filters: ExecutionFilters): boolean {
  return (
    (!filters.status || execution.status === filters.status) &&
    (!filters.workflow || execution.workflow === filters.workflow)
  );
}

/** Every cached list shares this prefix; the filters complete the key. */
export const EXECUTION_LISTS_KEY = ["executions", "list"] as const;

export function executionListKey(project: string, filters: ExecutionFilters) {
  return [
    ...EXECUTION_LISTS_KEY,
    { project, status: filters.status ?? null, workflow: filters.workflow ?? null },
  ] as const;
}

/** The filters a cached list was fetched with, read back from its key. */
export function filtersOfKey(key: readonly unknown[]): ExecutionFilters {
  const part = key[2] as { status?: ExecutionStatus | null; workflow?: string | null } | undefined;
  const filters: ExecutionFilters = {};
  if (part?.status) filters.status = part.status;
  if (part?.workflow) filters.workflow = part.workflow;
  return filters;
}

/**
 * A list (newest first, at most `limit`) after `execution` started or changed status: a row that still
 * matches the filters is replaced, one that no longer does leaves, a newly matching one takes its place by
 * start time. The same array comes back when nothing changed.
 */
export function mergeListedExecution(
  list: readonly ExecutionSummary[],
  execution: ExecutionSummary,
  filters: ExecutionFilters,
  limit = LIST_LIMIT,
): readonly ExecutionSummary[] {
  const index = list.findIndex((e) => e.id === execution.id);
  const matches = matchesFilters(execution, filters);
  if (index >= 0) {
    return matches
      ? list.map((e, i) => (i === index ? execution : e))
      : list.filter((_, i) => i !== index);
  }
  if (!matches) return list;
  const started = Date.parse(execution.createdAt);
  let at = list.findIndex((e) => Date.parse(e.createdAt) < started);
  if (at < 0) at = list.length;
  // Older than everything in a full list: it would not have been fetched either.
  if (at >= limit) return list;
  return [...list.slice(0, at), execution, ...list.slice(at)].slice(0, limit);
}
