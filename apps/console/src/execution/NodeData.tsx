/** What a node was given, what it returned and how it failed, as the task pane shows them. */
import type { NodeExecution } from "../ui/types.js";
import { ErrorBlock, JsonBlock } from "./blocks.js";

export function NodeError({ error }: { error: NonNullable<NodeExecution["error"]> }) {
  return (
    <section className="pane-section">
      <ErrorBlock error={error} title="Error" testId="node-error" />
    </section>
  );
}

interface NodeInputsProps {
  inputs: NodeExecution["inputs"];
  /** The node's own record (which carries the inputs) is still being fetched. */
  loading: boolean;
  isMap: boolean;
}

export function NodeInputs({ inputs, loading, isMap }: NodeInputsProps) {
  return (
    <section className="pane-section" aria-label="Inputs">
      <h3>Inputs</h3>
      {inputs ? (
        <JsonBlock value={inputs} testId="node-inputs" label="Node inputs" />
      ) : (
        <p data-testid="node-inputs" className="muted">
          {loading
            ? "Loading…"
            : isMap
              ? "Each element has its own inputs: select one above."
              : "No inputs yet: the node has not been given them."}
        </p>
      )}
    </section>
  );
}

export function NodeOutputs({ outputs }: { outputs: NodeExecution["outputs"] }) {
  return (
    <section className="pane-section" aria-label="Outputs">
      <h3>Outputs</h3>
      {outputs !== undefined ? (
        <JsonBlock value={outputs} testId="node-outputs" label="Node outputs" />
      ) : (
        <p data-testid="node-outputs" className="muted">
          No outputs yet
        </p>
      )}
    </section>
  );
}
