/**
 * One workflow: the launch form of a version (the latest unless `?version=` names another), and what that
 * version holds: when and where from it was registered, its nodes and tasks, which tasks open an IDE.
 */
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useId } from "react";
import { Link, useSearchParams } from "wouter";

import { api, errorMessage } from "../api.js";
import { ErrorState, Loading } from "../ui/states.js";
import type { WorkflowVersion } from "../ui/types.js";
import { executionListQuery } from "./Executions.js";
import { formatLocalTime } from "./relative-time.js";
import { retryUnlessRefused } from "./retry.js";
import { VersionLineage } from "./VersionLineage.js";
import { workflowListQuery } from "./Workflows.js";
import "./pages.css";

// The form brings ajv (~40 KB gzipped); it loads while the workflow does, not with the console.
const loadLaunchForm = () => import("../launch/LaunchForm.js");
const LaunchForm = lazy(() =>
  loadLaunchForm().then(
    (module) => ({ default: module.LaunchForm }),
    (error: unknown) => ({
      default: () => (
        <ErrorState
          title="The launch form could not be loaded"
          message={`${errorMessage(error)} Reload the page to try again.`}
        />
      ),
    }),
  ),
);

/** The version shown, and what the page knows of the workflow's other versions. */
interface VersionProps {
  workflow: WorkflowVersion;
  latest?: string;
  registered?: number;
  known: string[];
}

function VersionPicker({ workflow, latest, registered, known }: VersionProps) {
  const [, setSearchParams] = useSearchParams();
  const id = useId();
  const options = [...new Set([...(latest ? [latest] : []), workflow.version, ...known])];
  const unlisted = registered !== undefined && registered > options.length;
  return (
    <div className="version-picker">
      <label htmlFor={id}>Version</label>
      <select
        id={id}
        value={workflow.version}
        aria-describedby={unlisted ? `${id}-note` : undefined}
        onChange={(e) =>
          setSearchParams((prev) => {
            const next = new URLSearchParams(prev);
            if (e.target.value === latest) next.delete("version");
            else next.set("version", e.target.value);
            return next;
          })
        }
      >
        {options.map((v) => (
          <option key={v} value={v}>
            {v === latest ? `${v} (latest)` : v}
          </option>
        ))}
      </select>
      {unlisted && (
        <span id={`${id}-note`} className="muted">
          {registered} versions are registered; this lists the latest and those recent executions
          ran.
        </span>
      )}
    </div>
  );
}

function VersionFacts({ workflow, latest, registered, known }: VersionProps) {
  const nodes = workflow.spec.nodes;
  const fanOuts = nodes.filter((n) => n.kind === "map").length;
  const tasks = [...workflow.tasks].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <aside className="panel" aria-labelledby="version-heading">
      <h2 id="version-heading">Details</h2>
      <VersionPicker workflow={workflow} latest={latest} registered={registered} known={known} />
      <dl className="facts">
        <dt>Registered</dt>
        <dd>
          <time dateTime={workflow.createdAt}>{formatLocalTime(workflow.createdAt)}</time>
        </dd>
        <dt>Nodes</dt>
        <dd>
          {nodes.length}
          {fanOuts > 0 && ` (${fanOuts} fan-out${fanOuts === 1 ? "" : "s"})`}
        </dd>
        {registered !== undefined && (
          <>
            <dt>Versions</dt>
            <dd>{registered}</dd>
          </>
        )}
        <dt>Entry</dt>
        <dd>
          <code>{workflow.entry}</code>
        </dd>
      </dl>
      <VersionLineage workflow={workflow} />
      <h2>Tasks</h2>
      {tasks.length === 0 ? (
        <p className="muted">This version runs no tasks.</p>
      ) : (
        <ul className="task-list">
          {tasks.map((t) => (
            <li key={t.name}>
              <code>{t.name}</code>
              {t.interactive?.enable && (
                <span
                  className="badge tone-live"
                  title="Opens a VS Code session in the browser while it runs"
                >
                  interactive
                </span>
              )}
              {t.cache && (
                <span
                  className="badge tone-off"
                  title="Reuses the outputs of an earlier run with the same code and inputs"
                >
                  cached
                </span>
              )}
              {t.retries > 0 && <span className="muted">retries {t.retries}</span>}
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}

interface WorkflowUnavailableProps {
  name: string;
  version: string | undefined;
  error: unknown;
  retry: () => void;
}

function WorkflowUnavailable({ name, version, error, retry }: WorkflowUnavailableProps) {
  return (
    <>
      <ErrorState
        title={`Workflow ${name} could not be loaded`}
        message={errorMessage(error)}
        retry={retry}
      />
      <p className="muted centered">
        {version ? (
          <>
            <Link href={`/workflows/${encodeURIComponent(name)}`}>Open its latest version</Link> or{" "}
            <Link href="/workflows">see all workflows</Link>.
          </>
        ) : (
          <Link href="/workflows">See all workflows</Link>
        )}
      </p>
    </>
  );
}

/** A version's launch form beside what it holds. */
function WorkflowVersionView(props: VersionProps) {
  const { workflow } = props;
  return (
    <>
      {workflow.spec.description && <p className="muted">{workflow.spec.description}</p>}
      <div className="workflow-layout">
        <section className="panel" aria-labelledby="launch-heading">
          <h2 id="launch-heading">Launch</h2>
          <Suspense fallback={<Loading what="the launch form" />}>
            <LaunchForm key={workflow.version} workflow={workflow} />
          </Suspense>
        </section>
        <VersionFacts {...props} />
      </div>
    </>
  );
}

export function WorkflowPage({ name, project }: { name: string; project: string }) {
  const [searchParams] = useSearchParams();
  const version = searchParams.get("version") ?? undefined;
  const workflow = useQuery({
    queryKey: ["workflows", "get", project, name, version ?? null],
    queryFn: () => api.workflows.get.query({ project, name, ...(version ? { version } : {}) }),
    retry: retryUnlessRefused,
  });
  const summaries = useQuery(workflowListQuery(project));
  // The server lists no versions; recent executions name the ones people ran.
  const recent = useQuery(executionListQuery(project, { workflow: name }));

  useEffect(() => {
    void loadLaunchForm().catch(() => undefined);
  }, []);

  const summary = summaries.data?.find((w) => w.name === name);
  const known = [...new Set((recent.data ?? []).map((e) => e.version))];

  let body;
  if (workflow.isPending) {
    body = <Loading what={`workflow ${name}`} />;
  } else if (workflow.isError) {
    body = (
      <WorkflowUnavailable
        name={name}
        version={version}
        error={workflow.error}
        retry={() => void workflow.refetch()}
      />
    );
  } else {
    body = (
      <WorkflowVersionView
        workflow={workflow.data}
        latest={summary?.latestVersion}
        registered={summary?.versions}
        known={known}
      />
    );
  }

  return (
    <section className="page">
      <p className="crumbs">
        <Link href="/workflows">Workflows</Link> /
      </p>
      <div className="page-head">
        <h1>{name}</h1>
        <Link href={`/executions?${new URLSearchParams({ workflow: name, project }).toString()}`}>
          Executions of {name}
        </Link>
      </div>
      {body}
    </section>
  );
}
