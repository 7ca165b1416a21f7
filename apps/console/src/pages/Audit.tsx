/**
 * The audit log of a project, for its admins: who did what, when, from where, on which execution and node —
 * newest first, filtered (kept in the URL), with "Older entries" paging by `nextBefore`. Instance admins can
 * switch to every project's entries (sign-ins and key changes included). Read-only: the API writes none.
 */
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useId, useState } from "react";
import { Link, useSearchParams } from "wouter";

import { api, errorMessage } from "../api.js";
import { useMe } from "../identity/identity-context.js";
import { EmptyState, ErrorState, Loading } from "../ui/states.js";
import type { AuditAction, AuditEntry } from "../ui/types.js";
import type { AuditFilters } from "./audit-filters.js";
import {
  actorText,
  AUDIT_ACTION_LABELS,
  AUDIT_ACTIONS,
  auditFiltersSearch,
  auditQueryInput,
  detailText,
  isoToLocalInput,
  localInputToIso,
  readAuditFilters,
} from "./audit-filters.js";
import { formatLocalTime } from "./relative-time.js";
import { retryUnlessRefused } from "./retry.js";
import "./pages.css";

/** The log's pages for these filters; the next page is asked for with the last one's `nextBefore`. */
function useAuditPages(filters: AuditFilters, project: string) {
  return useInfiniteQuery({
    queryKey: ["audit", project, filters] as const,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => {
      const q = auditQueryInput(filters, project, pageParam);
      return q.procedure === "listAll"
        ? api.audit.listAll.query(q.input)
        : api.audit.list.query(q.input);
    },
    getNextPageParam: (last) => last.nextBefore,
    placeholderData: keepPreviousData,
    retry: retryUnlessRefused,
  });
}

function DateFilter(props: { label: string; value: string; onChange: (value: string) => void }) {
  const id = useId();
  return (
    <div className="filter">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        type="datetime-local"
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </div>
  );
}

function TextFilter(props: { label: string; value: string; onChange: (value: string) => void }) {
  const id = useId();
  return (
    <div className="filter">
      <label htmlFor={id}>{props.label}</label>
      <input id={id} value={props.value} onChange={(e) => props.onChange(e.target.value)} />
    </div>
  );
}

function ActionsFilter(props: { value: AuditAction[]; onChange: (value: AuditAction[]) => void }) {
  const id = useId();
  return (
    <div className="filter">
      <label htmlFor={id}>Actions</label>
      <select
        id={id}
        multiple
        size={5}
        value={props.value}
        onChange={(e) =>
          props.onChange([...e.target.selectedOptions].map((o) => o.value as AuditAction))
        }
      >
        {AUDIT_ACTIONS.map((a) => (
          <option key={a} value={a}>
            {AUDIT_ACTION_LABELS[a]} ({a})
          </option>
        ))}
      </select>
    </div>
  );
}

/** The filters as typed: applied (to the URL) on submit, so each keystroke does not ask the server. */
interface Draft {
  since: string;
  until: string;
  actions: AuditAction[];
  actor: string;
  executionId: string;
}

function draftOf(filters: AuditFilters): Draft {
  return {
    since: isoToLocalInput(filters.since),
    until: isoToLocalInput(filters.until),
    actions: filters.actions,
    actor: filters.actor ?? "",
    executionId: filters.executionId ?? "",
  };
}

function filtersOf(draft: Draft, allProjects: boolean): AuditFilters {
  const filters: AuditFilters = { actions: draft.actions, allProjects };
  const since = localInputToIso(draft.since);
  const until = localInputToIso(draft.until);
  if (since) filters.since = since;
  if (until) filters.until = until;
  if (draft.actor.trim()) filters.actor = draft.actor.trim();
  if (draft.executionId.trim()) filters.executionId = draft.executionId.trim();
  return filters;
}

function AuditFilterForm({
  filters,
  onApply,
}: {
  filters: AuditFilters;
  onApply: (next: AuditFilters) => void;
}) {
  const [draft, setDraft] = useState(() => draftOf(filters));
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(filtersOf(draft, filters.allProjects));
  };
  return (
    <form className="filters" onSubmit={submit} role="search" aria-label="Filter the audit log">
      <DateFilter label="Since" value={draft.since} onChange={(since) => set({ since })} />
      <DateFilter label="Until" value={draft.until} onChange={(until) => set({ until })} />
      <ActionsFilter value={draft.actions} onChange={(actions) => set({ actions })} />
      <TextFilter
        label="Actor (id or email)"
        value={draft.actor}
        onChange={(actor) => set({ actor })}
      />
      <TextFilter
        label="Execution id"
        value={draft.executionId}
        onChange={(executionId) => set({ executionId })}
      />
      <button type="submit" className="primary">
        Apply filters
      </button>
      <button
        type="button"
        onClick={() => {
          setDraft(draftOf({ actions: [], allProjects: false }));
          onApply({ actions: [], allProjects: filters.allProjects });
        }}
      >
        Clear
      </button>
    </form>
  );
}

function EntryTarget({ entry }: { entry: AuditEntry }) {
  if (!entry.executionId) return <span className="muted">–</span>;
  const href = `/executions/${encodeURIComponent(entry.executionId)}${
    entry.nodeId ? `?node=${encodeURIComponent(entry.nodeId)}` : ""
  }`;
  return (
    <Link href={href}>
      <code>
        {entry.executionId}
        {entry.nodeId ? ` ${entry.nodeId}` : ""}
      </code>
    </Link>
  );
}

function EntryRow({ entry, showProject }: { entry: AuditEntry; showProject: boolean }) {
  return (
    <tr data-action={entry.action}>
      <td>
        <time dateTime={entry.at}>{formatLocalTime(entry.at)}</time>
      </td>
      <td>{actorText(entry.actor)}</td>
      <td>
        <code title={AUDIT_ACTION_LABELS[entry.action]}>{entry.action}</code>
      </td>
      {showProject && <td>{entry.project ?? <span className="muted">–</span>}</td>}
      <td>
        <EntryTarget entry={entry} />
      </td>
      <td className="audit-detail">{detailText(entry.detail)}</td>
      <td className="wide" title={entry.userAgent}>
        {entry.ip ?? <span className="muted">–</span>}
      </td>
    </tr>
  );
}

function AuditTable({ entries, showProject }: { entries: AuditEntry[]; showProject: boolean }) {
  return (
    <div className="table-scroll">
      <table className="list" aria-label="Audit log">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            {showProject && <th scope="col">Project</th>}
            <th scope="col">Execution / node</th>
            <th scope="col">Detail</th>
            <th scope="col" className="wide">
              From
            </th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <EntryRow key={e.id} entry={e} showProject={showProject} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AuditResults({ filters, project }: { filters: AuditFilters; project: string }) {
  const pages = useAuditPages(filters, project);
  if (pages.isPending) return <Loading what="the audit log" />;
  if (pages.isError && !pages.data)
    return (
      <ErrorState
        title="The audit log could not be loaded"
        message={errorMessage(pages.error)}
        retry={() => void pages.refetch()}
      />
    );
  const entries = pages.data.pages.flatMap((p) => p.entries);
  if (entries.length === 0) return <EmptyState title="No entries match these filters" />;
  return (
    <>
      <AuditTable entries={entries} showProject={filters.allProjects} />
      <div className="list-foot">
        {pages.hasNextPage ? (
          <button
            type="button"
            onClick={() => void pages.fetchNextPage()}
            disabled={pages.isFetchingNextPage}
          >
            Older entries
          </button>
        ) : (
          <span className="muted">The beginning of the log.</span>
        )}
        {pages.isFetchNextPageError && (
          <p className="inline-error" role="alert">
            {errorMessage(pages.error)}
          </p>
        )}
      </div>
    </>
  );
}

export function AuditPage({ project }: { project: string }) {
  const me = useMe();
  const [search, setSearch] = useSearchParams();
  const filters = readAuditFilters(search);
  const apply = (next: AuditFilters) => setSearch(auditFiltersSearch(next, project));
  const canSeeAll = Boolean(me?.user.instanceAdmin);
  const allProjects = canSeeAll && filters.allProjects;
  return (
    <section className="page">
      <div className="page-head">
        <h1>Audit log of {allProjects ? "every project" : project}</h1>
        {canSeeAll && (
          <label className="switch">
            <input
              type="checkbox"
              checked={allProjects}
              onChange={(e) => apply({ ...filters, allProjects: e.target.checked })}
            />{" "}
            All projects
          </label>
        )}
      </div>
      <AuditFilterForm key={search.toString()} filters={filters} onApply={apply} />
      <AuditResults filters={{ ...filters, allProjects }} project={project} />
    </section>
  );
}
