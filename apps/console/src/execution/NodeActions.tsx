/**
 * What can be done with a node from the task pane: re-run it in VS Code (Debug, or held before its task
 * runs), download the changes made in its IDE, and fork them into a new version that runs from this node on
 * (Fork with edits).
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useLocation } from "wouter";

import { api, errorMessage } from "../api.js";
import { useRoleGate } from "../identity/identity-context.js";
import { EXECUTION_LISTS_KEY } from "../pages/execution-list.js";
import type { ExecutionStatus, NodeExecution } from "../ui/types.js";
import { ConfirmDialog } from "./ConfirmDialog.js";
import { canFork, executionHref } from "./lineage.js";
import { canDebug, hadSession, patchFileName } from "./session.js";

interface NodeRef {
  executionId: string;
  nodeId: string;
}

/** Saves a patch as a file, the way a download link would. */
function downloadPatch(patch: string, fileName: string) {
  const url = URL.createObjectURL(new Blob([patch], { type: "text/x-diff" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked a little later: the download may still be reading it.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function DownloadChanges({ executionId, nodeId }: NodeRef) {
  const changes = useMutation({
    mutationFn: () => api.sessions.changes.query({ executionId, nodeId }),
    onSuccess: ({ patch }) => {
      if (patch) downloadPatch(patch, patchFileName(executionId, nodeId));
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

/** Debug: a new execution re-running this node in VS Code; paused, its task is held on its first line. */
function DebugButton({
  executionId,
  nodeId,
  project,
  pauseBefore,
}: NodeRef & { project: string; pauseBefore: boolean }) {
  const [, navigate] = useLocation();
  const editor = useRoleGate(project, "editor");
  const debug = useMutation({
    mutationFn: () => api.executions.debug.mutate({ executionId, nodeId, pauseBefore }),
    onSuccess: (execution) =>
      navigate(
        `/executions/${encodeURIComponent(execution.id)}?node=${encodeURIComponent(nodeId)}`,
      ),
  });
  const purpose = pauseBefore
    ? "Re-run this node with the inputs it had, in VS Code, held on its task's first line"
    : "Re-run this node with the inputs it had, in VS Code";
  return (
    <>
      <button
        type="button"
        onClick={() => debug.mutate()}
        disabled={debug.isPending || !editor.allowed}
        title={editor.allowed ? purpose : editor.reason}
      >
        {pauseBefore ? "Debug, paused before the task" : "Debug"}
      </button>
      {debug.isError && (
        <p className="inline-error" role="alert">
          Could not start a debug run: {errorMessage(debug.error)}
        </p>
      )}
    </>
  );
}

function ForkButton({ executionId, nodeId, project }: NodeRef & { project: string }) {
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const editor = useRoleGate(project, "editor");
  const [confirming, setConfirming] = useState(false);
  const fork = useMutation({
    mutationFn: () => api.executions.fork.mutate({ executionId, nodeId }),
    onSuccess: (execution) => {
      void queryClient.invalidateQueries({ queryKey: EXECUTION_LISTS_KEY, refetchType: "none" });
      navigate(executionHref(execution.id, nodeId));
    },
  });
  return (
    <>
      <button
        type="button"
        onClick={() => setConfirming(true)}
        disabled={fork.isPending || !editor.allowed}
        title={
          editor.allowed
            ? "Register a version with the edits made in this node's IDE and run it"
            : editor.reason
        }
      >
        Fork with edits
      </button>
      {confirming && (
        <ConfirmDialog
          title="Fork with the IDE's edits?"
          confirmLabel="Fork and run"
          busy={fork.isPending}
          onConfirm={() => fork.mutate()}
          onCancel={() => setConfirming(false)}
        >
          <p>
            A new version is registered from this version&apos;s sources plus the edits made in{" "}
            {nodeId}&apos;s IDE, and runs with this execution&apos;s inputs. Upstream nodes whose
            code and inputs are unchanged are reused; {nodeId} and everything after it run.
          </p>
          {fork.isError && (
            <p className="inline-error" role="alert">
              Could not fork: {errorMessage(fork.error)}
            </p>
          )}
        </ConfirmDialog>
      )}
    </>
  );
}

/** The pane's buttons for a node; nothing when none applies. */
export function NodeActions({
  node,
  isMap,
  project,
  executionStatus,
  ...ref
}: NodeRef & {
  node: NodeExecution;
  isMap: boolean;
  project: string;
  executionStatus: ExecutionStatus;
}) {
  const debuggable = canDebug(node, isMap);
  const changed = hadSession(node);
  const forkable = !isMap && canFork(node, { status: executionStatus });
  if (!debuggable && !changed && !forkable) return null;
  return (
    <div className="pane-actions">
      {debuggable && <DebugButton {...ref} project={project} pauseBefore={false} />}
      {debuggable && <DebugButton {...ref} project={project} pauseBefore />}
      {forkable && <ForkButton {...ref} project={project} />}
      {changed && <DownloadChanges {...ref} />}
    </div>
  );
}
