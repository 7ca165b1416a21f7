/**
 * Where a version's sources came from, in its Details panel: the git commit and machine `drydock register`
 * recorded, or, for a forked version, the version and IDE edit it was made from.
 */
import { Link } from "wouter";

import { executionHref } from "../execution/lineage.js";
import type { ForkLineage, SourceOrigin, WorkflowVersion } from "../ui/types.js";
import { branchText, dirtyText, shortCommit, workflowVersionHref } from "./version-lineage.js";

function SourceFacts({ origin }: { origin: SourceOrigin }) {
  const git = origin.git;
  const dirty = git ? dirtyText(git) : undefined;
  return (
    <section className="version-source" aria-label="Source">
      {git && (
        <p data-testid="version-git">
          Source: git{" "}
          <code title={git.commit} data-commit={git.commit}>
            {shortCommit(git.commit)}
          </code>{" "}
          {branchText(git)}
          {dirty && (
            <>
              {" "}
              <span className="version-dirty" title={git.dirtyFiles.join("\n") || undefined}>
                {dirty}
              </span>
            </>
          )}
        </p>
      )}
      <p className="muted">
        registered from{" "}
        <code>
          {origin.host}:{origin.root}
        </code>
      </p>
    </section>
  );
}

function ForkedFrom({
  lineage,
  name,
  project,
}: {
  lineage: ForkLineage;
  name: string;
  project: string;
}) {
  return (
    <section className="version-lineage" aria-label="Lineage" data-testid="version-lineage">
      <p>
        Forked from version{" "}
        <Link href={workflowVersionHref(name, lineage.version, project)}>{lineage.version}</Link>{" "}
        with edits from execution{" "}
        <Link href={executionHref(lineage.executionId, lineage.nodeId)}>{lineage.executionId}</Link>{" "}
        node <code>{lineage.nodeId}</code>
      </p>
      <p>
        {lineage.changedTasks.length === 0 ? (
          "The edit changed no task's code."
        ) : (
          <>
            Changed {lineage.changedTasks.length === 1 ? "task" : "tasks"}:{" "}
            {lineage.changedTasks.map((t, i) => (
              <span key={t}>
                {i > 0 && ", "}
                <code>{t}</code>
              </span>
            ))}
          </>
        )}
      </p>
      <details>
        <summary>Patch</summary>
        <pre className="version-patch" tabIndex={0} aria-label="The edit, as a patch">
          {lineage.patch}
        </pre>
      </details>
    </section>
  );
}

/** Nothing for a version registered before origins were recorded. */
export function VersionLineage({ workflow }: { workflow: WorkflowVersion }) {
  if (!workflow.origin && !workflow.forkedFrom) return null;
  return (
    <>
      {workflow.forkedFrom && (
        <ForkedFrom lineage={workflow.forkedFrom} name={workflow.name} project={workflow.project} />
      )}
      {workflow.origin && <SourceFacts origin={workflow.origin} />}
    </>
  );
}
