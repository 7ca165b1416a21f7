/**
 * What a task image is made of: its deterministic tag and its generated Dockerfile. Pure functions, so the
 * tag of an ImageSpec can be computed (and tested) without Docker.
 */
import { createHash } from "node:crypto";

import type { ImageSpecData } from "@drydock/contracts";

import { TaskImageError } from "./errors.js";
import { checkImagePackages } from "./packages.js";

/** The image ImageSpecs without a `baseImage` build on: the agent image (`pnpm images`). */
export const DEFAULT_TASK_BASE_IMAGE = "drydock/agent:latest";
/** Where an ImageSpec's packages are installed; a task's code, extracted below it, finds them by Node's lookup. */
export const IMAGE_PACKAGES_PREFIX = "/opt/drydock";
/** The repository of task images: `drydock-task/<name>:<hash>`. */
export const TASK_IMAGE_REPOSITORY = "drydock-task";
/** The label holding the hash an image was built for. */
export const IMAGE_SPEC_LABEL = "drydock.image-spec";

/**
 * Part of every image hash: raise it whenever the generated Dockerfile changes, so existing task images are
 * rebuilt rather than reused with the old recipe.
 */
const TASK_IMAGE_FORMAT = 1;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** A Docker image reference or ID: one word, nothing a Dockerfile line could be split or continued on. */
const IMAGE_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;

/** The parts of an ImageSpec that decide what its image holds. */
export type ImageContent = Pick<ImageSpecData, "name" | "packages" | "env">;

/**
 * The hash of an image's content (16 hex): the format version, the base image's ID (a rebuilt base gives new
 * task images), the packages (sorted) and the env (sorted by name). Not the name: it is in the repository.
 */
export function taskImageHash(spec: ImageContent, baseImageId: string): string {
  const packages = [...new Set(spec.packages)].sort(compareStrings);
  const env = Object.entries(spec.env).sort(([a], [b]) => compareStrings(a, b));
  return createHash("sha256")
    .update(JSON.stringify([TASK_IMAGE_FORMAT, baseImageId, packages, env]))
    .digest("hex")
    .slice(0, 16);
}

/**
 * The image name of an ImageSpec's name: lowercase, any run of other characters than a-z and 0-9 made one `-`
 * (Docker's rules for a repository path component).
 * @example taskImageRepository("My Tools") // "drydock-task/my-tools"
 */
export function taskImageRepository(name: string): string {
  const component = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 128)
    .replace(/-+$/, "");
  return `${TASK_IMAGE_REPOSITORY}/${component || "image"}`;
}

/**
 * The tag of the image built from `spec` on the base image with ID `baseImageId`.
 * @example taskImageTag({ name: "tools", packages: ["is-number@7.0.0"], env: {} }, "sha256:…") // "drydock-task/tools:3f0c…" (16 hex)
 */
export function taskImageTag(spec: ImageContent, baseImageId: string): string {
  return `${taskImageRepository(spec.name)}:${taskImageHash(spec, baseImageId)}`;
}

/** Checks the parts of an ImageSpec that go into a Dockerfile; throws `IMAGE_SPEC_INVALID` naming the bad entry. */
export function checkImageSpec(spec: ImageContent & { baseImage?: string }): void {
  if (spec.baseImage !== undefined) checkBaseImage(spec.name, spec.baseImage);
  checkImagePackages(spec.name, spec.packages);
  for (const [key, value] of Object.entries(spec.env)) {
    if (!ENV_NAME.test(key)) {
      throw new TaskImageError(
        "IMAGE_SPEC_INVALID",
        `ImageSpec "${spec.name}": env name ${JSON.stringify(key)} is not valid (letters, digits and _, not starting with a digit)`,
      );
    }
    if (CONTROL_CHARACTER.test(value)) {
      throw new TaskImageError(
        "IMAGE_SPEC_INVALID",
        `ImageSpec "${spec.name}": the value of env ${key} holds a control character (newline, tab…), which an image's ENV cannot carry`,
      );
    }
  }
}

function checkBaseImage(image: string, baseImage: string): void {
  if (!IMAGE_REFERENCE.test(baseImage)) {
    throw new TaskImageError(
      "IMAGE_SPEC_INVALID",
      `ImageSpec "${image}": baseImage ${JSON.stringify(baseImage)} is not an image reference (repository[:tag] or an image ID)`,
    );
  }
}

export interface TaskImageDockerfileOptions {
  /** The image to build FROM: the ImageSpec's baseImage or the default one. */
  baseImage: string;
  /** `taskImageHash` of the spec on that base, recorded as the image's `drydock.image-spec` label. */
  hash: string;
  /** Declares the build argument NPM_CONFIG_REGISTRY, so `npm install` uses the registry the build passes. */
  npmRegistry?: boolean;
}

/**
 * The Dockerfile of a task image: the base, its packages installed under /opt/drydock, its env, its hash.
 * @example taskImageDockerfile({ name: "tools", packages: ["is-number@7.0.0"], env: { A: "1" } }, { baseImage: "drydock/agent:latest", hash })
 */
export function taskImageDockerfile(
  spec: ImageContent,
  options: TaskImageDockerfileOptions,
): string {
  checkImageSpec({ ...spec, baseImage: options.baseImage });
  const packages = checkImagePackages(spec.name, spec.packages);
  const lines = [`FROM ${options.baseImage}`];
  if (packages.length > 0) {
    // A build argument, not ENV: the registry is where packages come from, not part of the image.
    if (options.npmRegistry) lines.push("ARG NPM_CONFIG_REGISTRY");
    lines.push(
      `RUN npm install --prefix ${IMAGE_PACKAGES_PREFIX} --no-audit --no-fund ${packages.map((p) => p.spec).join(" ")}`,
    );
  }
  for (const [key, value] of Object.entries(spec.env).sort(([a], [b]) => compareStrings(a, b))) {
    lines.push(`ENV ${key}=${quoteEnvValue(value)}`);
  }
  lines.push(`LABEL ${IMAGE_SPEC_LABEL}=${options.hash}`);
  return `${lines.join("\n")}\n`;
}

/**
 * A value for a Dockerfile ENV line, double-quoted: JSON escapes `"` and `\` the way the Dockerfile reads them
 * back, and `$` is escaped too, since ENV substitutes variables even inside double quotes.
 */
function quoteEnvValue(value: string): string {
  return JSON.stringify(value).replace(/\$/g, "\\$");
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
