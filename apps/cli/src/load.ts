import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

import { findEntities } from "@drydock/sdk";
import type { TaskEntity, WorkflowEntity } from "@drydock/sdk";

import { CliError } from "./errors.js";

export interface LoadedFile {
  path: string;
  tasks: Map<string, TaskEntity>;
  workflows: Map<string, WorkflowEntity>;
}

/** Imports a workflow file as written (TypeScript through tsx) and finds its tasks and workflows. */
export async function loadWorkflowFile(file: string): Promise<LoadedFile> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliError(`no such file: ${file}`);
  const { tsImport } = await import("tsx/esm/api");
  const ns = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  const { tasks, workflows } = findEntities(ns);
  if (workflows.size === 0)
    throw new CliError(`${file} exports no workflow (export const wf = workflow(...))`);
  return { path, tasks, workflows };
}

export function pickWorkflow(loaded: LoadedFile, name: string): WorkflowEntity {
  const wf = loaded.workflows.get(name);
  if (!wf)
    throw new CliError(
      `workflow "${name}" is not exported by ${loaded.path} (it exports: ${[...loaded.workflows.keys()].join(", ")})`,
    );
  return wf;
}
