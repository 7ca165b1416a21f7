import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, relative, sep } from "node:path";

import type { Execution, JsonValue, TaskSpec, WorkflowSpec } from "@drydock/contracts";
import type { TaskCallSite } from "@drydock/sdk";
import type Docker from "dockerode";

import { buildTaskImages, imagePackageName, TaskImageError } from "./images/index.js";
import type { ApiClient } from "./client.js";
import type { LoadedFile } from "./load.js";
import { CliError } from "./errors.js";
import { readNpmRegistry } from "./npm-registry.js";
import { describeOrigin, sourceOrigin } from "./origin.js";
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
      progress.update(
        `uploading bundle ${formatBytes(sent)} / ${formatBytes(body.length)} (${Math.round((sent / body.length) * 100)}%)`,
      );
      controller.enqueue(next);
    },
  });
  const response = await fetch(url, {
    method: "PUT",
    body: stream,
    headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
    duplex: "half",
  });
  if (!response.ok)
    throw new CliError(`the bundle upload failed: ${response.status} ${await response.text()}`, 1);
}

export interface RegisterOptions {
  /** The base of task images whose ImageSpec names none (DRYDOCK_TASK_BASE_IMAGE); default drydock/agent:latest. */
  taskBaseImage?: string;
  /** The Docker engine task images are built on; default dockerode's (DOCKER_HOST, else /var/run/docker.sock). */
  docker?: Docker;
}

export interface LaunchOptions extends RegisterOptions {
  /** Cached tasks run again and replace their cache entries (`run --remote --overwrite-cache`). */
  overwriteCache?: boolean;
  /** Nodes held before their task runs, with their IDE open (`run --remote --pause-before`). */
  pauseBefore?: string[];
}

/**
 * The specs of every workflow the file exports and of the tasks they call, copied so they can be changed here,
 * and where each task was defined.
 */
function collectSpecs(loaded: LoadedFile): {
  tasks: TaskSpec[];
  workflows: WorkflowSpec[];
  callSites: Map<string, TaskCallSite>;
} {
  const tasks = new Map<string, TaskSpec>();
  const workflows: WorkflowSpec[] = [];
  const callSites = new Map<string, TaskCallSite>();
  for (const wf of loaded.workflows.values()) {
    const built = wf.build();
    workflows.push(built.workflow);
    for (const t of built.tasks)
      tasks.set(t.name, { ...t, ...(t.image ? { image: { ...t.image } } : {}) });
    for (const [name, entity] of wf.taskEntities())
      if (entity.callSite) callSites.set(name, entity.callSite);
  }
  return { tasks: [...tasks.values()], workflows, callSites };
}

/**
 * Makes each task's sourceFile relative to the bundle root (dropping it when outside) and records its code:
 * the hash and lines of its `task(...)` call, as a fork of the bundle computes them.
 */
async function locateTasks(
  tasks: TaskSpec[],
  callSites: Map<string, TaskCallSite>,
  root: string,
): Promise<void> {
  const texts = new Map<string, Promise<string | undefined>>();
  const textOf = (file: string) => {
    let text = texts.get(file);
    if (!text) {
      text = readFile(file, "utf8").catch(() => undefined);
      texts.set(file, text);
    }
    return text;
  };
  // Loaded when needed: TypeScript's compiler is most of a CLI start-up otherwise.
  const { findTaskCode } = await import("@drydock/bundle");
  for (const spec of tasks) {
    const file = spec.sourceFile;
    const source = file && isAbsolute(file) ? relative(root, file) : undefined;
    if (!file || !source || source.startsWith("..") || isAbsolute(source)) {
      delete spec.sourceFile;
      continue;
    }
    spec.sourceFile = source.split(sep).join("/");
    // The call site is exact under tsx's source maps; the task's name in its options finds it otherwise.
    const site = callSites.get(spec.name);
    const text = await textOf(file);
    const code =
      text === undefined
        ? undefined
        : findTaskCode(text, spec.sourceFile, {
            name: spec.name,
            ...(site?.file === file ? { line: site.line, column: site.column } : {}),
          });
    if (code) spec.code = code;
  }
}

/**
 * On a server that runs tasks on Docker or a swarm, builds (or reuses) the tasks' images and records them as
 * `image.ref`; a swarm's nodes pull them from the registry the server names, where they are pushed.
 * Returns the names of the packages the images install, which the bundle leaves to them.
 */
async function prepareTaskImages(
  api: ApiClient,
  loaded: LoadedFile,
  tasks: TaskSpec[],
  progress: Progress,
  options: RegisterOptions,
): Promise<string[]> {
  const images = tasks.flatMap((t) => (t.image ? [t.image] : []));
  if (images.length === 0) return [];
  const { executor, registry } = await api.health.query();
  if (executor === "local") {
    progress.step(
      "the server's local executor runs tasks as processes, so task images are not built",
    );
    return [];
  }
  try {
    const needsNpm = images.some((image) => image.packages.length > 0);
    const npmRegistry = needsNpm ? await readNpmRegistry(dirname(loaded.path)) : undefined;
    await buildTaskImages(tasks, {
      defaultBase: options.taskBaseImage,
      npmRegistry,
      docker: options.docker,
      ...(registry ? { registry } : {}),
      progress,
    });
  } catch (error) {
    if (error instanceof TaskImageError) throw new CliError(error.message, 1);
    throw error;
  }
  return [...new Set(images.flatMap((image) => image.packages.map(imagePackageName)))];
}

/**
 * Packages the file with the local files it imports (as written) and the npm packages they need, builds the
 * tasks' images when the server runs tasks on Docker, uploads the bundle unless the server has it already,
 * and registers every workflow the file exports.
 */
export async function registerFile(
  api: ApiClient,
  project: string,
  loaded: LoadedFile,
  progress: Progress,
  options: RegisterOptions = {},
): Promise<Registered> {
  const { tasks, workflows, callSites } = collectSpecs(loaded);
  const imagePackages = await prepareTaskImages(api, loaded, tasks, progress, options);

  progress.update(`packaging ${loaded.path}`);
  const { packBundle } = await import("@drydock/bundle");
  const bundle = await packBundle(loaded.path, {
    onProgress: (m) => progress.update(m),
    imagePackages,
  });
  progress.step(
    `packaged ${bundle.manifest.sources.length} source file(s) and ${Object.keys(bundle.manifest.packages).length} npm package(s) (${formatBytes(bundle.size)}, sha256 ${bundle.sha256.slice(0, 12)})`,
  );
  const { exists, uploadUrl } = await api.workflows.createUpload.mutate({
    project,
    sha256: bundle.sha256,
    size: bundle.size,
  });
  if (!exists && uploadUrl) {
    await upload(uploadUrl, bundle.tarball, progress);
    progress.step(`uploaded bundle (${formatBytes(bundle.size)})`);
  } else progress.step("the server already has this bundle");

  await locateTasks(tasks, callSites, bundle.root);
  const origin = await sourceOrigin(bundle.root, bundle.manifest.sources);
  progress.step(describeOrigin(origin));
  const result = await api.workflows.register.mutate({
    project,
    bundle: bundle.sha256,
    entry: bundle.manifest.entry,
    tasks,
    workflows,
    origin,
  });
  for (const w of result.workflows)
    progress.step(
      `registered workflow ${w.name} version ${w.version}${w.created ? "" : " (unchanged)"}`,
    );
  return {
    bundle: bundle.sha256,
    versions: new Map(result.workflows.map((w) => [w.name, w.version])),
  };
}

/** Registers the file and starts an execution of its workflow `name`: what `run --remote` and `up --launch` do. */
export async function launchWorkflow(
  api: ApiClient,
  project: string,
  loaded: LoadedFile,
  name: string,
  inputs: Record<string, JsonValue>,
  progress: Progress,
  options: LaunchOptions = {},
): Promise<Execution> {
  const registered = await registerFile(api, project, loaded, progress, options);
  return api.executions.create.mutate({
    project,
    workflow: name,
    version: registered.versions.get(name),
    inputs,
    overwriteCache: options.overwriteCache ?? false,
    pauseBefore: options.pauseBefore ?? [],
  });
}
