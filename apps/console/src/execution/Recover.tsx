/**
 * Recover: a new execution of the same version that reuses what succeeded and runs the failed nodes and
 * everything after them; the nodes ticked here run again too. Opens the new execution's page.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useLocation } from "wouter";

import { api, errorMessage } from "../api.js";
import { useRoleGate } from "../identity/identity-context.js";
import { EXECUTION_LISTS_KEY } from "../pages/execution-list.js";
import type { Execution, NodeExecution } from "../ui/types.js";
import { ConfirmDialog } from "./ConfirmDialog.js";
import { executionHref, forceChoices, recoverNeedsForce, recoverProblem } from "./lineage.js";

interface RecoverProps {
  execution: Execution;
  nodes: readonly NodeExecution[];
}

function ForceList({
  nodes,
  force,
  onToggle,
}: {
  nodes: readonly NodeExecution[];
  force: readonly string[];
  onToggle: (nodeId: string, on: boolean) => void;
}) {
  const choices = forceChoices(nodes);
  if (choices.length === 0) return <p className="muted">No node succeeded: every node runs.</p>;
  return (
    <fieldset className="recover-force">
      <legend>Nodes that succeeded (reused unless ticked)</legend>
      {choices.map((c) => (
        <label key={c.nodeId}>
          <input
            type="checkbox"
            checked={force.includes(c.nodeId)}
            onChange={(e) => onToggle(c.nodeId, e.target.checked)}
          />{" "}
          {c.label}
        </label>
      ))}
    </fieldset>
  );
}

export function RecoverDialog({
  execution,
  nodes,
  onClose,
}: RecoverProps & { onClose: () => void }) {
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const [force, setForce] = useState<string[]>([]);
  const recover = useMutation({
    mutationFn: () => api.executions.recover.mutate({ id: execution.id, force }),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: EXECUTION_LISTS_KEY, refetchType: "none" });
      navigate(executionHref(created.id));
    },
  });
  const problem = recoverProblem(execution, force);
  const toggle = (nodeId: string, on: boolean) =>
    setForce((current) => (on ? [...current, nodeId] : current.filter((id) => id !== nodeId)));
  return (
    <ConfirmDialog
      title="Recover execution"
      confirmLabel="Start recovery"
      busy={recover.isPending}
      blocked={problem !== undefined}
      onConfirm={() => recover.mutate()}
      onCancel={onClose}
    >
      <p>
        A new execution of version {execution.version} starts with the same inputs. Nodes that
        succeeded are reused; failed nodes and everything after them run again.
      </p>
      <ForceList nodes={nodes} force={force} onToggle={toggle} />
      {problem && recoverNeedsForce(execution) && (
        <p className="muted" role="status">
          {problem}
        </p>
      )}
      {recover.isError && (
        <p className="inline-error" role="alert">
          Could not recover: {errorMessage(recover.error)}
        </p>
      )}
    </ConfirmDialog>
  );
}

/** The header's Recover button and its dialog. */
export function RecoverAction({ execution, nodes }: RecoverProps) {
  const [open, setOpen] = useState(false);
  const editor = useRoleGate(execution.project, "editor");
  return (
    <>
      <button
        type="button"
        className="execution-recover"
        onClick={() => setOpen(true)}
        disabled={!editor.allowed}
        title={
          editor.allowed
            ? "Run it again from its failure, reusing the nodes that succeeded"
            : editor.reason
        }
      >
        Recover
      </button>
      {open && <RecoverDialog execution={execution} nodes={nodes} onClose={() => setOpen(false)} />}
    </>
  );
}
