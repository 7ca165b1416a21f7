/**
 * The launch form of one workflow version, generated from its input schemas. Every field is checked in the
 * browser first (ajv, as the server checks); nothing is sent while one is invalid. What the server still
 * refuses is shown at the field it names, or above the button. A launch opens the new execution's page.
 */
import { useId } from "react";

import { useRoleGate } from "../identity/identity-context.js";
import type { Gate } from "../identity/roles.js";
import type { WorkflowVersion } from "../ui/types.js";
import type { FieldControlProps } from "./FieldControl.js";
import { FieldControl } from "./FieldControl.js";
import { useLaunchForm } from "./useLaunchForm.js";
import "./launch.css";

/** One field: its name, whether it is required, its hint and description, its control and its error. */
function LaunchField(props: FieldControlProps) {
  const { field, id, error } = props;
  const control = <FieldControl {...props} />;
  return (
    <div className={`field field-${field.control}${error ? " invalid" : ""}`}>
      <div className="field-head">
        {field.control === "checkbox" && control}
        <label htmlFor={id}>{field.name}</label>
        {field.required ? (
          <span className="field-tag">required</span>
        ) : (
          <span className="field-tag optional">optional</span>
        )}
        {field.hint && (
          <span id={`${id}-hint`} className="field-hint">
            {field.hint}
          </span>
        )}
      </div>
      {field.description && (
        <p id={`${id}-description`} className="field-description">
          {field.description}
        </p>
      )}
      {field.control !== "checkbox" && control}
      {error && (
        <p id={`${id}-error`} className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** Launch options beside the inputs: cached tasks can be made to run again and replace their entries. */
function OverwriteCacheOption({
  checked,
  onChange,
}: {
  checked: boolean;
  onChange: (checked: boolean) => void;
}) {
  const id = useId();
  return (
    <div className="field field-checkbox launch-option">
      <div className="field-head">
        <input
          id={id}
          type="checkbox"
          checked={checked}
          onChange={(e) => onChange(e.target.checked)}
          aria-describedby={`${id}-description`}
        />
        <label htmlFor={id}>Overwrite cache (run cached tasks again)</label>
      </div>
      <p id={`${id}-description`} className="field-description">
        Tasks that cache their outputs run instead of reusing an earlier run&apos;s, and their cache
        entries are replaced.
      </p>
    </div>
  );
}

/**
 * Pause points: the ticked nodes' tasks are held on their first line, their IDE open with the real inputs,
 * before they run (a fan-out's every element).
 */
function PauseBeforeOption({
  nodes,
  checked,
  onChange,
}: {
  nodes: WorkflowVersion["spec"]["nodes"];
  checked: readonly string[];
  onChange: (nodeId: string, on: boolean) => void;
}) {
  const id = useId();
  return (
    <fieldset className="launch-option pause-before" aria-describedby={`${id}-description`}>
      <legend>Pause before</legend>
      <p id={`${id}-description`} className="field-description">
        Each ticked node&apos;s task is held on its first line before it runs, with its VS Code open
        and its real inputs loaded; continuing in the debugger runs it for real.
      </p>
      <ul className="pause-before-nodes">
        {nodes.map((node) => (
          <li key={node.id}>
            <input
              id={`${id}-${node.id}`}
              type="checkbox"
              checked={checked.includes(node.id)}
              onChange={(e) => onChange(node.id, e.target.checked)}
            />
            <label htmlFor={`${id}-${node.id}`}>Pause before {node.id}</label>{" "}
            <span className="muted">
              {node.task}
              {node.kind === "map" ? " (each element)" : ""}
            </span>
          </li>
        ))}
      </ul>
    </fieldset>
  );
}

function LaunchButton({
  workflowName,
  pending,
  gate,
}: {
  workflowName: string;
  pending: boolean;
  gate: Gate;
}) {
  return (
    <div className="form-actions">
      <button
        type="submit"
        className="primary"
        disabled={pending || !gate.allowed}
        aria-busy={pending || undefined}
        title={gate.allowed ? undefined : gate.reason}
      >
        Launch
      </button>
      {!gate.allowed && <span className="muted">{gate.reason}</span>}
      {pending && (
        <span className="muted" role="status">
          Starting an execution of {workflowName}…
        </span>
      )}
    </div>
  );
}

export function LaunchForm({ workflow }: { workflow: WorkflowVersion }) {
  const form = useLaunchForm(workflow);
  const gate = useRoleGate(workflow.project, "editor");
  return (
    <form
      className="launch-form"
      onSubmit={form.submit}
      noValidate
      aria-label={`Launch ${workflow.name}`}
    >
      {form.fields.length === 0 && <p className="muted">This workflow takes no inputs.</p>}
      {form.fields.map((field) => (
        <LaunchField
          key={field.name}
          field={field}
          id={form.fieldId(field.name)}
          value={form.values[field.name] ?? field.initial}
          error={form.errors[field.name]}
          onChange={(value, bad) => form.change(field.name, value, bad)}
        />
      ))}
      <OverwriteCacheOption checked={form.overwriteCache} onChange={form.setOverwriteCache} />
      {workflow.spec.nodes.length > 0 && (
        <PauseBeforeOption
          nodes={workflow.spec.nodes}
          checked={form.pauseBefore}
          onChange={form.setPausePoint}
        />
      )}
      {form.formError && (
        <p className="form-error" role="alert">
          {form.formError}
        </p>
      )}
      <LaunchButton workflowName={workflow.name} pending={form.pending} gate={gate} />
    </form>
  );
}
