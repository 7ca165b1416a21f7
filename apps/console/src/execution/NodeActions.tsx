/** What can be done with a node from the task pane: re-run it in VS Code (Debug), download the changes made in its IDE. */
import { useMutation } from "@tanstack/react-query";
import { useLocation } from "wouter";

import { api, errorMessage } from "../api.js";
import { useRoleGate } from "../identity/identity-context.js";
import type { NodeExecution } from "../ui/types.js";
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

function DebugButton({ executionId, nodeId, project }: NodeRef & { project: string }) {
  const [, navigate] = useLocation();
  const editor = useRoleGate(project, "editor");
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
        disabled={debug.isPending || !editor.allowed}
        title={
          editor.allowed ? "Re-run this node with the inputs it had, in VS Code" : editor.reason
        }
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

/** The pane's buttons for a node; nothing when none applies. */
export function NodeActions({
  node,
  isMap,
  project,
  ...ref
}: NodeRef & { node: NodeExecution; isMap: boolean; project: string }) {
  const debuggable = canDebug(node, isMap);
  const changed = hadSession(node);
  if (!debuggable && !changed) return null;
  return (
    <div className="pane-actions">
      {debuggable && <DebugButton {...ref} project={project} />}
      {changed && <DownloadChanges {...ref} />}
    </div>
  );
}
