import { z } from "zod";

import { EntityName, JsonSchemaSchema, Sha256 } from "./common.js";

/** A container image as data; the Docker executor builds it (ImageSpec in the SDK). */
export const ImageSpecDataSchema = z.object({
  name: z.string().min(1),
  baseImage: z.string().optional(),
  packages: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  /**
   * The image built from this spec (`repository:tag`), recorded by `drydock register` when the server runs
   * tasks on Docker; the Docker executor runs the task's attempts in it. Absent: the server's default task image.
   */
  ref: z.string().min(1).optional(),
});
export type ImageSpecData = z.infer<typeof ImageSpecDataSchema>;

/** What `vscode(...)` asks of the platform; interpreted by the interactive-tasks issue. */
export const InteractiveConfigSchema = z.object({
  enable: z.boolean().default(true),
  maxIdleSeconds: z.number().int().positive().default(36_000),
  runTaskFirst: z.boolean().default(false),
  /**
   * The task has a preExecute hook. It runs in the task's module before code-server starts; without one
   * (and without runTaskFirst) the agent starts code-server while it still loads the task's module.
   */
  preExecute: z.boolean().default(false),
  port: z.number().int().min(1).max(65_535).optional(),
  extensions: z.array(z.string()).default([]),
  /**
   * `pause`: the task runs at once with no IDE, in a process of its own under the inspector; if its function
   * throws or rejects, that process stays paused at the throw and the IDE opens on it (post-mortem).
   */
  onFailure: z.enum(["pause"]).optional(),
  /** Seconds a session nobody opened stays up; defaultMaxUnopenedSeconds(maxIdleSeconds) when absent. */
  maxUnopenedSeconds: z.number().int().positive().optional(),
});
export type InteractiveConfig = z.infer<typeof InteractiveConfigSchema>;

export const ResourcesSchema = z.object({
  cpu: z.number().positive().optional(),
  memoryMiB: z.number().int().positive().optional(),
});

/**
 * Node labels a task must run on (Kubernetes' name for it): `{ gpu: "true" }` runs it only on nodes labelled
 * `gpu=true`. A cluster executor turns it into placement (Swarm: the constraint `node.labels.gpu==true`); an
 * executor with one machine runs the task there anyway. Keys and values are in Kubernetes' label syntax; Swarm's
 * constraints also refuse a '/' in a key and an empty value, which its executor names when it launches.
 */
export const NodeSelectorSchema = z.record(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/),
  z
    .string()
    .regex(
      /^[A-Za-z0-9._-]{0,63}$/,
      "a node label value is at most 63 letters, digits, '.', '_' or '-'",
    ),
  {
    // The record reports a bad key itself ("Invalid key in record"); its path names the key.
    error: (issue) =>
      issue.code === "invalid_key"
        ? "a node label key is 1 to 63 letters, digits, '.', '_', '-' or '/', starting with a letter or digit"
        : undefined,
  },
);
export type NodeSelector = z.infer<typeof NodeSelectorSchema>;

/**
 * `task({ cache: true })` or `cache: { version: "2" }`: a node of this task reuses the outputs of any earlier
 * successful run in the project with the same cache key and the same inputs. The key is `version` when given,
 * else the task's fingerprint (its code's hash, interface and image). Interactive tasks and debug runs
 * never read or write the cache.
 */
export const TaskCacheSchema = z.object({
  version: z.string().min(1).max(128).optional(),
});
export type TaskCache = z.infer<typeof TaskCacheSchema>;

/**
 * The task function's code as registered: the sha256 of its source text, and where that text lies in
 * `sourceFile` (first and last line, 1-based) when it was found there. A fork marks a task changed when its
 * edit touches those lines (or anything outside every task's lines), and gives it a new hash.
 */
export const TaskCodeSchema = z.object({
  sha256: Sha256,
  lines: z.tuple([z.number().int().min(1), z.number().int().min(1)]).optional(),
});
export type TaskCode = z.infer<typeof TaskCodeSchema>;

/** A task as registered: its typed interface and how the platform should run it. */
export const TaskSpecSchema = z.object({
  name: EntityName,
  description: z.string().optional(),
  /** One JSON Schema per input name. */
  inputs: z.record(EntityName, JsonSchemaSchema),
  /** Input names the caller must give (no default, not optional). */
  required: z.array(EntityName).default([]),
  output: JsonSchemaSchema,
  retries: z.number().int().min(0).max(10).default(0),
  timeoutSeconds: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 3600)
    .optional(),
  image: ImageSpecDataSchema.optional(),
  resources: ResourcesSchema.optional(),
  /** The node labels its attempts must run on: see NodeSelectorSchema. */
  nodeSelector: NodeSelectorSchema.optional(),
  interactive: InteractiveConfigSchema.optional(),
  /** Path of the source file that defines the task, relative to the bundle root. */
  sourceFile: z.string().optional(),
  /** The task function's code (absent for tasks registered before code was recorded). */
  code: TaskCodeSchema.optional(),
  cache: TaskCacheSchema.optional(),
});
export type TaskSpec = z.infer<typeof TaskSpecSchema>;
export type TaskSpecInput = z.input<typeof TaskSpecSchema>;
