/**
 * The launch form of one workflow version, generated from its input schemas. Every field is checked in the
 * browser first (ajv, as the server checks); nothing is sent while one is invalid. What the server still
 * refuses is shown at the field it names, or above the button. A launch opens the new execution's page.
 */
import type { JsonValue } from "@drydock/contracts";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useId, useMemo, useState } from "react";
import { useLocation } from "wouter";

import { api, appCode, errorMessage, PROJECT } from "../api.js";
import { EXECUTION_LISTS_KEY } from "../pages/execution-list.js";
import type { WorkflowVersion } from "../ui/types.js";
import type { FieldDescriptor, RawValue, RawValues } from "./form.js";
import {
  checkForm,
  compileChecks,
  describeFields,
  initialValues,
  serverInputProblems,
} from "./form.js";
import "./launch.css";

/** The server's codes for inputs it refused: its own check, or the request's shape. */
const INPUT_REFUSALS = new Set(["INVALID_INPUTS", "INVALID_INPUT"]);

interface FieldProps {
  field: FieldDescriptor;
  id: string;
  value: RawValue;
  error: string | undefined;
  onChange: (value: RawValue, unreadable: boolean) => void;
}

function FieldControl({ field, id, value, error, onChange }: FieldProps) {
  const describedBy = [
    error && `${id}-error`,
    field.description && `${id}-description`,
    field.hint && `${id}-hint`,
  ]
    .filter(Boolean)
    .join(" ");
  const common = {
    id,
    name: field.name,
    "aria-invalid": error ? true : undefined,
    "aria-required": field.required || undefined,
    "aria-describedby": describedBy || undefined,
  };
  switch (field.control) {
    case "checkbox":
      return (
        <input
          {...common}
          type="checkbox"
          checked={value === true}
          onChange={(e) => onChange(e.target.checked, false)}
        />
      );
    case "select":
      return (
        <select
          {...common}
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value, false)}
        >
          <option value="">{field.required ? "Choose…" : "(not set)"}</option>
          {field.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      );
    case "number":
      return (
        <input
          {...common}
          type="number"
          inputMode={field.integer ? "numeric" : "decimal"}
          step={field.integer ? 1 : "any"}
          min={field.min}
          max={field.max}
          value={typeof value === "string" ? value : ""}
          // A number input reports unreadable text ("1e") as empty; remember it, so it is not silently dropped.
          onChange={(e) => onChange(e.target.value, e.target.validity.badInput)}
        />
      );
    case "json":
      return (
        <textarea
          {...common}
          className="json"
          rows={Math.min(
            8,
            Math.max(3, (typeof value === "string" ? value : "").split("\n").length),
          )}
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value, false)}
        />
      );
    case "text":
      return (
        <input
          {...common}
          type="text"
          spellCheck={false}
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value, false)}
        />
      );
  }
}

export function LaunchForm({ workflow }: { workflow: WorkflowVersion }) {
  const fields = useMemo(
    () => describeFields(workflow.spec.inputs, workflow.spec.required),
    [workflow],
  );
  const checks = useMemo(() => compileChecks(fields), [fields]);
  const [values, setValues] = useState<RawValues>(() => initialValues(fields));
  const [unreadable, setUnreadable] = useState<ReadonlySet<string>>(() => new Set());
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const formId = useId();
  const fieldId = (name: string) => `${formId}-${name}`;

  function focusFirst(names: readonly string[]) {
    const first = fields.find((f) => names.includes(f.name));
    if (first) document.getElementById(fieldId(first.name))?.focus();
  }

  const launch = useMutation({
    mutationFn: (inputs: Record<string, JsonValue>) =>
      api.executions.create.mutate({
        project: PROJECT,
        workflow: workflow.name,
        version: workflow.version,
        inputs,
      }),
    onSuccess: (execution) => {
      // Lists fetched before this launch lack it; they refetch when next shown.
      void queryClient.invalidateQueries({ queryKey: EXECUTION_LISTS_KEY, refetchType: "none" });
      navigate(`/executions/${encodeURIComponent(execution.id)}`);
    },
    onError: (error) => {
      const code = appCode(error);
      if (code && INPUT_REFUSALS.has(code)) {
        const problems = serverInputProblems(
          errorMessage(error),
          fields.map((f) => f.name),
        );
        setErrors(problems.fields);
        setFormError(problems.form);
        focusFirst(Object.keys(problems.fields));
      } else {
        setFormError(errorMessage(error));
      }
    },
  });

  function change(name: string, value: RawValue, bad: boolean) {
    setValues((current) => ({ ...current, [name]: value }));
    setUnreadable((current) => {
      if (bad === current.has(name)) return current;
      const next = new Set(current);
      if (bad) next.add(name);
      else next.delete(name);
      return next;
    });
    setErrors((current) => {
      if (!(name in current)) return current;
      const { [name]: _cleared, ...rest } = current;
      return rest;
    });
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (launch.isPending) return;
    setFormError(undefined);
    const result = checkForm(fields, values, checks);
    const found: Record<string, string> = result.ok ? {} : { ...result.errors };
    for (const name of unreadable) found[name] = `${name} must be a number`;
    if (!result.ok || Object.keys(found).length > 0) {
      setErrors(found);
      focusFirst(Object.keys(found));
      return;
    }
    setErrors({});
    launch.mutate(result.inputs);
  }

  return (
    <form
      className="launch-form"
      onSubmit={submit}
      noValidate
      aria-label={`Launch ${workflow.name}`}
    >
      {fields.length === 0 && <p className="muted">This workflow takes no inputs.</p>}
      {fields.map((field) => {
        const id = fieldId(field.name);
        const error = errors[field.name];
        const control = (
          <FieldControl
            field={field}
            id={id}
            value={values[field.name] ?? field.initial}
            error={error}
            onChange={(v, bad) => change(field.name, v, bad)}
          />
        );
        return (
          <div
            key={field.name}
            className={`field field-${field.control}${error ? " invalid" : ""}`}
          >
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
      })}
      {formError && (
        <p className="form-error" role="alert">
          {formError}
        </p>
      )}
      <div className="form-actions">
        <button
          type="submit"
          className="primary"
          disabled={launch.isPending}
          aria-busy={launch.isPending || undefined}
        >
          Launch
        </button>
        {launch.isPending && (
          <span className="muted" role="status">
            Starting an execution of {workflow.name}…
          </span>
        )}
      </div>
    </form>
  );
}
