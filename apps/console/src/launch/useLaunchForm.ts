/**
 * The launch form's state and its submit: the values typed, the errors shown at fields or above the button,
 * and the launch itself. Nothing is sent while a field is invalid; a launch opens the new execution's page.
 */
import type { JsonValue } from "@drydock/contracts";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useId, useMemo, useState } from "react";
import { useLocation } from "wouter";

import { api, appCode, errorMessage } from "../api.js";
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

/** The server's codes for inputs it refused: its own check, or the request's shape. */
const INPUT_REFUSALS = new Set(["INVALID_INPUTS", "INVALID_INPUT"]);

/** The values typed, the fields a number input could not read, and the errors shown at fields. */
function useFieldValues(fields: readonly FieldDescriptor[]) {
  const [values, setValues] = useState<RawValues>(() => initialValues(fields));
  const [unreadable, setUnreadable] = useState<ReadonlySet<string>>(() => new Set());
  const [errors, setErrors] = useState<Record<string, string>>({});

  // A field's error goes as soon as it is edited; the next submit checks it again.
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

  return { values, unreadable, errors, setErrors, change };
}

/** What one launch sends besides the version: inputs, whether cached tasks run again, pause points. */
export interface Launch {
  inputs: Record<string, JsonValue>;
  overwriteCache: boolean;
  pauseBefore: string[];
}

/** What `executions.create` is sent for one launch of this version. */
export function launchRequest(workflow: WorkflowVersion, launch: Launch) {
  return {
    project: workflow.project,
    workflow: workflow.name,
    version: workflow.version,
    ...launch,
  };
}

/** The pause points ticked, in the workflow's node order whatever the order of the ticks. */
export function togglePausePoint(
  nodeIds: readonly string[],
  current: readonly string[],
  nodeId: string,
  on: boolean,
): string[] {
  return nodeIds.filter((id) => (id === nodeId ? on : current.includes(id)));
}

/** `executions.create` for this workflow version; a launch opens the new execution's page. */
function useLaunchMutation(workflow: WorkflowVersion, onRefused: (error: unknown) => void) {
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (launch: Launch) => api.executions.create.mutate(launchRequest(workflow, launch)),
    onSuccess: (execution) => {
      // Lists fetched before this launch lack it; they refetch when next shown.
      void queryClient.invalidateQueries({ queryKey: EXECUTION_LISTS_KEY, refetchType: "none" });
      navigate(`/executions/${encodeURIComponent(execution.id)}`);
    },
    onError: onRefused,
  });
}

export function useLaunchForm(workflow: WorkflowVersion) {
  const fields = useMemo(
    () => describeFields(workflow.spec.inputs, workflow.spec.required),
    [workflow],
  );
  const checks = useMemo(() => compileChecks(fields), [fields]);
  const { values, unreadable, errors, setErrors, change } = useFieldValues(fields);
  const [formError, setFormError] = useState<string>();
  const [overwriteCache, setOverwriteCache] = useState(false);
  const [pauseBefore, setPauseBefore] = useState<string[]>([]);
  const nodeIds = useMemo(() => workflow.spec.nodes.map((n) => n.id), [workflow]);
  const setPausePoint = (nodeId: string, on: boolean) =>
    setPauseBefore((current) => togglePausePoint(nodeIds, current, nodeId, on));
  const formId = useId();
  const fieldId = (name: string) => `${formId}-${name}`;

  function focusFirst(names: readonly string[]) {
    const first = fields.find((f) => names.includes(f.name));
    if (first) document.getElementById(fieldId(first.name))?.focus();
  }

  // What the server still refuses is shown at the field it names, or above the button.
  const launch = useLaunchMutation(workflow, (error) => {
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
  });

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
    launch.mutate({ inputs: result.inputs, overwriteCache, pauseBefore });
  }

  return {
    fields,
    values,
    errors,
    formError,
    pending: launch.isPending,
    overwriteCache,
    setOverwriteCache,
    pauseBefore,
    setPausePoint,
    fieldId,
    change,
    submit,
  };
}
