/**
 * Builds the images a workflow's tasks name (their ImageSpecs) on the Docker engine, through its API
 * (dockerode): one image per distinct spec, reused while its tag (a hash of what it holds) exists.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { ImageSpecData, TaskSpec } from "@drydock/contracts";
import type Docker from "dockerode";

import { TaskImageError } from "./errors.js";
import {
  checkImageSpec,
  DEFAULT_TASK_BASE_IMAGE,
  taskImageDockerfile,
  taskImageHash,
  taskImageTag,
} from "./recipe.js";

/** Where build progress goes; the CLI's `Progress` is one. */
export interface TaskImageProgress {
  /** A transient line (a terminal shows the latest one). */
  update(message: string): void;
  /** A line that stays. */
  step(message: string): void;
}

export interface BuildTaskImagesOptions {
  /** The base of ImageSpecs without a `baseImage`; default `drydock/agent:latest`. */
  defaultBase?: string;
  /** The npm registry `npm install` uses in the builds (build argument NPM_CONFIG_REGISTRY); npm's default when absent. */
  npmRegistry?: string;
  /** The engine to build on; default dockerode's (DOCKER_HOST, else /var/run/docker.sock). */
  docker?: Docker;
  /**
   * The image registry a cluster's nodes pull from (`host:port`, e.g. the stack's `10.77.0.1:5000`): images are
   * named in it and pushed there, since the node that runs a task is not the one that built its image.
   */
  registry?: string;
  progress?: TaskImageProgress;
}

/** One image to make, and the tasks that run in it. */
interface ImageJob {
  spec: ImageSpecData;
  base: string;
  images: ImageSpecData[];
}

/** How many of a failed build's last output lines its error quotes. */
const FAILED_BUILD_LINES = 25;
/** drydock/agent's label, inherited by every image built FROM it. */
const AGENT_ROLE_LABEL = "drydock.role";

/**
 * Builds (or reuses) the image of every distinct ImageSpec the tasks use and sets `image.ref` on those tasks.
 * Returns ImageSpec name → image reference (`drydock-task/<name>:<16 hex>`).
 * @example const refs = await buildTaskImages(tasks, { progress }); // Map { "tools" => "drydock-task/tools:3f0c…" }
 */
export async function buildTaskImages(
  tasks: TaskSpec[],
  options: BuildTaskImagesOptions = {},
): Promise<Map<string, string>> {
  const progress = options.progress ?? { update: () => undefined, step: () => undefined };
  const jobs = imageJobs(tasks, options.defaultBase ?? DEFAULT_TASK_BASE_IMAGE);
  const refs = new Map<string, string>();
  if (jobs.length === 0) return refs;

  const docker = options.docker ?? (await defaultEngine());
  await reachEngine(docker);
  const bases = new Map<string, BaseImage>();
  for (const job of jobs) {
    let base = bases.get(job.base);
    if (!base) {
      base = await inspectBase(docker, job);
      bases.set(job.base, base);
      if (base.labels[AGENT_ROLE_LABEL] !== "agent") {
        progress.step(
          `warning: the base image ${job.base} is not built FROM drydock/agent (no ${AGENT_ROLE_LABEL}=agent label); tasks run in it need the agent`,
        );
      }
    }
    const hash = taskImageHash(job.spec, base.id);
    const tag = `${options.registry ? `${options.registry}/` : ""}${taskImageTag(job.spec, base.id)}`;
    if (await imageExists(docker, tag)) {
      progress.step(`image ${tag} is up to date (reused)`);
    } else {
      const dockerfile = taskImageDockerfile(job.spec, {
        baseImage: job.base,
        hash,
        npmRegistry: options.npmRegistry !== undefined,
      });
      await buildImage(docker, {
        name: job.spec.name,
        tag,
        dockerfile,
        npmRegistry: options.npmRegistry,
        progress,
      });
    }
    if (options.registry) await pushImage(docker, tag, progress);
    refs.set(job.spec.name, tag);
    for (const image of job.images) image.ref = tag;
  }
  return refs;
}

/** The distinct ImageSpecs of the tasks, checked; two different specs with one name are refused. */
function imageJobs(tasks: TaskSpec[], defaultBase: string): ImageJob[] {
  const byContent = new Map<string, ImageJob>();
  const contentByName = new Map<string, string>();
  for (const task of tasks) {
    const image = task.image;
    if (!image) continue;
    checkImageSpec(image);
    const base = image.baseImage ?? defaultBase;
    // What the image holds, keyed by the base's reference (its ID is known only once inspected).
    const content = taskImageHash(image, base);
    const named = contentByName.get(image.name);
    if (named !== undefined && named !== content) {
      throw new TaskImageError(
        "IMAGE_SPEC_INVALID",
        `two different ImageSpecs are named "${image.name}" (task ${task.name} uses one of them); give each its own name`,
      );
    }
    contentByName.set(image.name, content);
    const job = byContent.get(content) ?? { spec: image, base, images: [] };
    job.images.push(image);
    byContent.set(content, job);
  }
  return [...byContent.values()];
}

/** dockerode (with its gRPC and SSH clients) is loaded only when images are built: other commands start without it. */
async function defaultEngine(): Promise<Docker> {
  const { default: Dockerode } = await import("dockerode");
  return new Dockerode();
}

function engineAddress(docker: Docker): string {
  // docker-modem keeps its connection options as fields, which its typings leave out.
  const modem = docker.modem as {
    socketPath?: string;
    host?: string;
    port?: number | string;
    protocol?: string;
  };
  if (typeof modem.socketPath === "string") return modem.socketPath;
  return `${String(modem.protocol ?? "http")}://${String(modem.host)}${modem.port ? `:${String(modem.port)}` : ""}`;
}

async function reachEngine(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (error) {
    throw new TaskImageError(
      "DOCKER_UNREACHABLE",
      `cannot reach the Docker engine at ${engineAddress(docker)}: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

interface BaseImage {
  id: string;
  labels: Record<string, string>;
}

async function inspectBase(docker: Docker, job: ImageJob): Promise<BaseImage> {
  try {
    const info = await docker.getImage(job.base).inspect();
    return { id: info.Id, labels: info.Config?.Labels ?? {} };
  } catch (error) {
    if (statusCode(error) !== 404)
      throw dockerFailure(docker, `inspecting the base image ${job.base}`, error);
    const hint =
      job.base === DEFAULT_TASK_BASE_IMAGE
        ? "build it with `pnpm images` (infra/images/build.sh)"
        : `build or pull it (${job.spec.baseImage === undefined ? "it is the default task base image" : `ImageSpec "${job.spec.name}" builds on it`}; it must be built FROM drydock/agent)`;
    throw new TaskImageError(
      "BASE_IMAGE_MISSING",
      `the base image ${job.base} is not there: ${hint}`,
      { cause: error },
    );
  }
}

async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (error) {
    if (statusCode(error) === 404) return false;
    throw dockerFailure(docker, `looking for the image ${tag}`, error);
  }
}

interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

async function buildImage(
  docker: Docker,
  job: {
    name: string;
    tag: string;
    dockerfile: string;
    npmRegistry?: string;
    progress: TaskImageProgress;
  },
): Promise<void> {
  const { tag, progress } = job;
  const started = performance.now();
  const lastLines: string[] = [];
  let failure: string | undefined;
  // The context holds the Dockerfile and nothing else: the image needs no files from this machine.
  const context = await mkdtemp(join(tmpdir(), "drydock-image-"));
  try {
    await writeFile(join(context, "Dockerfile"), job.dockerfile);
    progress.update(`building image ${tag}`);
    const stream = await docker.buildImage(
      { context, src: ["Dockerfile"] },
      {
        t: tag,
        rm: true,
        forcerm: true,
        ...(job.npmRegistry === undefined
          ? {}
          : { buildargs: { NPM_CONFIG_REGISTRY: job.npmRegistry } }),
      },
    );
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(error) : resolve()),
        (event: BuildEvent) => {
          for (const line of (event.stream ?? "").split("\n")) {
            const text = line.trimEnd();
            if (!text.trim()) continue;
            lastLines.push(text);
            if (lastLines.length > FAILED_BUILD_LINES) lastLines.shift();
            progress.update(`building image ${tag}: ${text.trim().slice(0, 160)}`);
          }
          if (event.error || event.errorDetail) failure = event.errorDetail?.message ?? event.error;
        },
      );
    });
  } catch (error) {
    throw dockerFailure(docker, `building the image ${tag} (ImageSpec "${job.name}")`, error);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  if (failure !== undefined) {
    const output =
      lastLines.length > 0
        ? `\nthe build's last lines:\n${lastLines.map((l) => `  ${l}`).join("\n")}`
        : "";
    throw new TaskImageError(
      "IMAGE_BUILD_FAILED",
      `building the image ${tag} (ImageSpec "${job.name}") failed: ${failure}${output}`,
    );
  }
  progress.step(`built image ${tag} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Pushes `tag` to the registry its name starts with; a layer the registry has already is not sent again. */
async function pushImage(docker: Docker, tag: string, progress: TaskImageProgress): Promise<void> {
  const started = performance.now();
  let failure: string | undefined;
  progress.update(`pushing image ${tag}`);
  try {
    // The engine wants credentials even for a registry without any: an empty set.
    const stream = await docker.getImage(tag).push({ authconfig: {} });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(error) : resolve()),
        (event: BuildEvent & { status?: string }) => {
          if (event.status) progress.update(`pushing image ${tag}: ${event.status}`);
          if (event.error || event.errorDetail) failure = event.errorDetail?.message ?? event.error;
        },
      );
    });
  } catch (error) {
    failure = messageOf(error);
  }
  if (failure !== undefined)
    throw new TaskImageError(
      "IMAGE_PUSH_FAILED",
      `pushing the image ${tag} to its registry failed: ${failure} (the cluster's nodes pull task images from there: is the registry up, and marked insecure in the engine's daemon.json if it has no TLS?)`,
    );
  progress.step(`pushed image ${tag} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** A failed Engine API call: unreachable (socket errors), or the engine's own message. */
function dockerFailure(docker: Docker, doing: string, error: unknown): TaskImageError {
  if (error instanceof TaskImageError) return error;
  if (statusCode(error) === undefined && (error as NodeJS.ErrnoException).code !== undefined) {
    return new TaskImageError(
      "DOCKER_UNREACHABLE",
      `cannot reach the Docker engine at ${engineAddress(docker)}: ${messageOf(error)}`,
      { cause: error },
    );
  }
  return new TaskImageError("IMAGE_BUILD_FAILED", `${doing} failed: ${messageOf(error)}`, {
    cause: error,
  });
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

function messageOf(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | undefined)?.json;
  if (typeof json?.message === "string") return json.message;
  return error instanceof Error ? error.message : String(error);
}
