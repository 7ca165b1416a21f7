// What a task author imports. This module ends up inside user bundles: it may import only zod and
// @drydock/contracts (and the SDK's own light modules), never the CLI, esbuild or Node-only tooling.
export { task } from "./task.js";
export type {
  Task,
  TaskCallInputs,
  TaskFunction,
  TaskInputs,
  TaskMapOver,
  TaskOptions,
  TaskRawInputs,
} from "./task.js";
export { workflow } from "./workflow.js";
export type { Workflow, WorkflowInputRefs, WorkflowOptions, WorkflowRunArgs } from "./workflow.js";
export type { Bindable, Ref, Unref } from "./refs.js";
export { COPILOT_EXTENSION, VIM_EXTENSION, VscodeConfig, vscode } from "./vscode.js";
export type { InteractiveDefinition, VscodeOptions } from "./vscode.js";
export { ImageSpec } from "./image.js";
export type { ImageSpecOptions } from "./image.js";
export { runWorkflow, validateWorkflowInputs } from "./local-runner.js";
export type { RunEvent, RunOptions, RunnableWorkflow } from "./local-runner.js";
export { InvalidInputsError, TaskFailedError } from "./errors.js";
export type { InputIssue } from "./errors.js";
export { ENTITY, entityOf, findEntities } from "./entity.js";
export type { Entity, TaskCallSite, TaskEntity, WorkflowEntity } from "./entity.js";
export type { InputShape } from "./inputs.js";
