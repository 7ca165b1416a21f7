import { AppError } from "@drydock/contracts";

/** The control plane's error catalogue: one stable code per failure, mapped to a transport code once. */
export const ServerErrors = {
  projectNotFound: (id: string) => new AppError("PROJECT_NOT_FOUND", "NOT_FOUND", `project "${id}" does not exist`),
  workflowNotFound: (project: string, name: string, version?: string) =>
    new AppError(
      "WORKFLOW_NOT_FOUND",
      "NOT_FOUND",
      version
        ? `workflow "${name}" has no version "${version}" in project "${project}"`
        : `workflow "${name}" is not registered in project "${project}"`,
    ),
  executionNotFound: (id: string) => new AppError("EXECUTION_NOT_FOUND", "NOT_FOUND", `execution "${id}" does not exist`),
  attemptNotFound: (id: string) => new AppError("ATTEMPT_NOT_FOUND", "NOT_FOUND", `attempt "${id}" does not exist`),
  invalidWorkflow: (name: string, problems: string[]) =>
    new AppError("INVALID_WORKFLOW", "BAD_REQUEST", `workflow "${name}" is invalid: ${problems.join("; ")}`),
  invalidInputs: (workflow: string, problems: string[]) =>
    new AppError("INVALID_INPUTS", "BAD_REQUEST", `invalid inputs for workflow "${workflow}": ${problems.join("; ")}`),
  bundleMissing: (sha256: string) =>
    new AppError("BUNDLE_NOT_UPLOADED", "PRECONDITION_FAILED", `bundle ${sha256} has not been uploaded (call workflows.createUpload and PUT it first)`),
  executionFinished: (id: string, status: string) =>
    new AppError("EXECUTION_FINISHED", "CONFLICT", `execution "${id}" already ended ${status}`),
  attemptEnded: (id: string, status: string) => new AppError("ATTEMPT_ENDED", "CONFLICT", `attempt "${id}" already ended ${status}`),
  outputsMissing: (id: string) =>
    new AppError("OUTPUTS_NOT_UPLOADED", "PRECONDITION_FAILED", `attempt "${id}" completed without uploading its outputs`),
  outputsMismatch: (id: string) =>
    new AppError("OUTPUTS_MISMATCH", "BAD_REQUEST", `the outputs uploaded for attempt "${id}" do not match the given sha256`),
} as const;
