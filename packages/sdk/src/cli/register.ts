import { isAbsolute, relative } from "node:path";

import type { Execution, JsonValue, TaskSpec, WorkflowSpec } from "@drydock/contracts";

import { packBundle } from "../bundle/index.js";
import type { ApiClient } from "./client.js";
import type { LoadedFile } from "./load.js";
import { CliError } from "./errors.js";
import { formatBytes } from "./progress.js";
import type { Progress } from "./progress.js";

export interface Registered {
  bundle: string;
  versions: Map<string, string>;
}

async function upload(url: string, body: Buffer, progress: Progress): Promise<void> {
  let sent = 0;
  const chunk = 256 * 1024;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= body.length) {
        controller.close();
        return;
      }
      const next = body.subarray(sent, sent + chunk);
      sent += next.length;
      progress.update(`uploading bundle ${formatBytes(sent)} / ${formatBytes(body.length)} (${Math.round((sent / body.length) * 100)}%)`);
      controller.enqueue(next);
    },
  });
  const response = await fetch(url, {
    method: "PUT",
    body: stream,
    headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
    duplex: "half",
  } as RequestInit);
  if (!response.ok) throw new CliError(`the bundle upload failed: ${response.status} ${await response.text()}`, 1);
}

/**
 * Packages the file with the local files it imports (as written) and the npm packages they need,
 * uploads it unless the server has it already, and registers every workflow the file exports.
 */
export async function registerFile(api: ApiClient, project: string, loaded: LoadedFile, progress: Progress): Promise<Registered> {
  progress.update(`packaging ${loaded.path}`);
  const bundle = await packBundle(loaded.path, { onProgress: (m) => progress.update(m) });
  progress.step(`packaged ${bundle.manifest.sources.length} source file(s) and ${Object.keys(bundle.manifest.packages).length} npm package(s) (${formatBytes(bundle.size)}, sha256 ${bundle.sha256.slice(0, 12)})`);
  const { exists, uploadUrl } = await api.workflows.createUpload.mutate({ project, sha256: bundle.sha256, size: bundle.size });
  if (!exists && uploadUrl) {
    await upload(uploadUrl, bundle.tarball, progress);
    progress.step(`uploaded bundle (${formatBytes(bundle.size)})`);
  } else progress.step("the server already has this bundle");

  const tasks = new Map<string, TaskSpec>();
  const workflows: WorkflowSpec[] = [];
  for (const wf of loaded.workflows.values()) {
    const built = wf.build();
    workflows.push(built.workflow);
    for (const t of built.tasks) {
      const source = t.sourceFile && isAbsolute(t.sourceFile) ? relative(bundle.root, t.sourceFile) : undefined;
      const spec: TaskSpec = { ...t };
      if (source && !source.startsWith("..")) spec.sourceFile = source;
      else delete spec.sourceFile;
      tasks.set(t.name, spec);
    }
  }
  const result = await api.workflows.register.mutate({
    project,
    bundle: bundle.sha256,
    entry: bundle.manifest.entry,
    tasks: [...tasks.values()],
    workflows,
  });
  for (const w of result.workflows) progress.step(`registered workflow ${w.name} version ${w.version}${w.created ? "" : " (unchanged)"}`);
  return { bundle: bundle.sha256, versions: new Map(result.workflows.map((w) => [w.name, w.version])) };
}

/** Registers the file and starts an execution of its workflow `name`: what `run --remote` and `up --launch` do. */
export async function launchWorkflow(
  api: ApiClient,
  project: string,
  loaded: LoadedFile,
  name: string,
  inputs: Record<string, JsonValue>,
  progress: Progress,
): Promise<Execution> {
  const registered = await registerFile(api, project, loaded, progress);
  return api.executions.create.mutate({ project, workflow: name, version: registered.versions.get(name), inputs });
}
