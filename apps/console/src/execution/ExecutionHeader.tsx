/**
 * The execution's header: what ran, where it came from, how it stands, what it got and gave; Abort while it
 * runs, Recover once it has ended.
 */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "wouter";

import { api, errorMessage } from "../api.js";
import { useRoleGate } from "../identity/identity-context.js";
import { withProject } from "../identity/project-choice.js";
import { workflowVersionHref } from "../pages/version-lineage.js";
import { durationBetween, StatusBadge } from "../ui/status.js";
import type { Execution, NodeExecution } from "../ui/types.js";
import { ErrorBlock, inlineJson, JsonBlock } from "./blocks.js";
import { useSharedClock } from "./shared-clock.js";
import { ConfirmDialog } from "./ConfirmDialog.js";
import { executionHref, parentVerb, recoverable } from "./lineage.js";
import { RecoverAction } from "./Recover.js";

/** "Recovered from x0" or "Forked from x0 (node n2)", the parent linked. */
function ParentLink({ parent }: { parent: NonNullable<Execution["parent"]> }) {
  return (
    <>
      {parentVerb(parent)}{" "}
      <Link href={executionHref(parent.executionId, parent.nodeId)}>{parent.executionId}</Link>
      {parent.kind === "fork" && parent.nodeId && ` (node ${parent.nodeId})`}
      {parent.force.length > 0 && `; ran again: ${parent.force.join(", ")}`}
    </>
  );
}

/** Which execution this is, when it started, how long it has taken, and which node a debug run re-runs. */
function ExecutionFacts({ execution, now }: { execution: Execution; now: number }) {
  return (
    <dl className="execution-facts">
      <div>
        <dt>Execution</dt>
        <dd>
          <code data-testid="execution-id">{execution.id}</code>
        </dd>
      </div>
      <div>
        <dt>Started</dt>
        <dd>
          <time dateTime={execution.createdAt}>
            {new Date(execution.createdAt).toLocaleString()}
          </time>
        </dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd data-testid="execution-duration">
          {durationBetween(execution.createdAt, execution.endedAt, now)}
        </dd>
      </div>
      {execution.parent && (
        <div>
          <dt>Lineage</dt>
          <dd data-testid="execution-parent">
            <ParentLink parent={execution.parent} />
          </dd>
        </div>
      )}
      {execution.debugOf && (
        <div>
          <dt>Debug run</dt>
          <dd>
            <Link
              href={`/executions/${encodeURIComponent(execution.debugOf.executionId)}?node=${encodeURIComponent(execution.debugOf.nodeId)}`}
            >
              debug of {execution.debugOf.executionId} {execution.debugOf.nodeId}
            </Link>
          </dd>
        </div>
      )}
    </dl>
  );
}

/** The execution's inputs, folded; its result inline when short, else folded too. */
function InputsAndResult({ execution }: { execution: Execution }) {
  const inputNames = Object.keys(execution.inputs);
  const result = inlineJson(execution.result);
  return (
    <div className="execution-io">
      <details>
        <summary>Inputs ({inputNames.length === 0 ? "none" : inputNames.join(", ")})</summary>
        <JsonBlock value={execution.inputs} testId="execution-inputs" label="Execution inputs" />
      </details>
      {execution.status === "SUCCEEDED" &&
        (result === undefined ? (
          <details>
            <summary>Result</summary>
            <JsonBlock
              value={execution.result}
              testId="execution-result"
              label="Execution result"
            />
          </details>
        ) : (
          <p className="execution-result">
            Result <code data-testid="execution-result">{result}</code>
          </p>
        ))}
    </div>
  );
}

export function ExecutionHeader({
  execution,
  nodes = [],
}: {
  execution: Execution;
  /** The execution's nodes: Recover offers to run those that succeeded again. */
  nodes?: readonly NodeExecution[];
}) {
  const running = execution.status === "RUNNING";
  const now = useSharedClock(running);
  const [confirming, setConfirming] = useState(false);
  const editor = useRoleGate(execution.project, "editor");
  const abort = useMutation({
    mutationFn: () => api.executions.abort.mutate({ id: execution.id }),
    onSettled: () => setConfirming(false),
  });
  return (
    <header className="execution-header">
      <div className="execution-title">
        <h1>
          <Link
            href={withProject(
              `/workflows/${encodeURIComponent(execution.workflow)}`,
              execution.project,
            )}
          >
            {execution.workflow}
          </Link>{" "}
          <span className="execution-version">
            version{" "}
            <Link
              href={workflowVersionHref(execution.workflow, execution.version, execution.project)}
              data-testid="execution-version"
            >
              {execution.version}
            </Link>
          </span>
        </h1>
        {execution.createdBy && (
          <span className="execution-launched-by" data-testid="execution-launched-by">
            launched by {execution.createdBy.name}
          </span>
        )}
        <span data-testid="execution-status" data-status={execution.status}>
          <StatusBadge status={execution.status} />
        </span>
        {execution.overwriteCache && (
          <span
            className="execution-note"
            data-testid="execution-overwrite-cache"
            title="Launched to overwrite the cache: cached tasks ran again and replaced their entries"
          >
            cache overwritten
          </span>
        )}
        {execution.pauseBefore.length > 0 && (
          <span
            className="execution-note"
            data-testid="execution-pause-before"
            title="Launched with pause points: these nodes' tasks are held on their first line, with their IDE open"
          >
            pause points: {execution.pauseBefore.join(", ")}
          </span>
        )}
        {running && (
          <button
            type="button"
            className="danger execution-abort"
            onClick={() => setConfirming(true)}
            disabled={abort.isPending || !editor.allowed}
            title={editor.allowed ? undefined : editor.reason}
          >
            Abort
          </button>
        )}
        {recoverable(execution) && <RecoverAction execution={execution} nodes={nodes} />}
      </div>
      <ExecutionFacts execution={execution} now={now} />
      <InputsAndResult execution={execution} />
      {execution.error && (
        <ErrorBlock
          error={execution.error}
          title={execution.status === "ABORTED" ? "Aborted" : "Error"}
          testId="execution-error"
          foldStack
        />
      )}
      {abort.isError && (
        <p className="inline-error" role="alert">
          Could not abort: {errorMessage(abort.error)}
        </p>
      )}
      {confirming && (
        <ConfirmDialog
          title="Abort this execution?"
          confirmLabel="Abort execution"
          danger
          busy={abort.isPending}
          onConfirm={() => abort.mutate()}
          onCancel={() => setConfirming(false)}
        >
          <p>
            Running tasks are stopped, their VS Code sessions end, and nodes that have not run are
            skipped. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </header>
  );
}
