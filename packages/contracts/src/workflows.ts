import { z } from "zod";

import { EntityName, JsonSchemaSchema, JsonValueSchema, Sha256, Timestamp } from "./common.js";
import { TaskSpecSchema } from "./tasks.js";

/** A path into a JSON value: object keys and list indexes. */
export const ValuePathSchema = z.array(z.union([z.string(), z.number().int().min(0)]));

/** Where a node's input comes from. Bindings nest, so `{ a: out.x, b: [1, in.y] }` is expressible. */
export type Binding =
  | { kind: "literal"; value: z.infer<typeof JsonValueSchema> }
  | { kind: "input"; name: string; path?: (string | number)[] }
  | { kind: "node"; node: string; path?: (string | number)[] }
  | { kind: "list"; items: Binding[] }
  | { kind: "object"; fields: Record<string, Binding> };

export const BindingSchema: z.ZodType<Binding> = z.lazy(() =>
  z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("literal"), value: JsonValueSchema }),
    z.object({ kind: z.literal("input"), name: EntityName, path: ValuePathSchema.optional() }),
    z.object({
      kind: z.literal("node"),
      node: z.string().min(1),
      path: ValuePathSchema.optional(),
    }),
    z.object({ kind: z.literal("list"), items: z.array(BindingSchema) }),
    z.object({ kind: z.literal("object"), fields: z.record(z.string(), BindingSchema) }),
  ]),
);

export const NodeIdSchema = z.string().regex(/^n[0-9]+$/, "node ids are n0, n1, …");

/** One task invocation in the DAG. */
export const TaskNodeSchema = z.object({
  kind: z.literal("task"),
  id: NodeIdSchema,
  task: EntityName,
  inputs: z.record(EntityName, BindingSchema),
});

/**
 * A fan-out: the task runs once per element of the `over` lists (zipped, equal length), with
 * `inputs` fixed for every element. Its output is the list of the element outputs.
 */
export const MapNodeSchema = z.object({
  kind: z.literal("map"),
  id: NodeIdSchema,
  task: EntityName,
  over: z.record(EntityName, BindingSchema),
  inputs: z.record(EntityName, BindingSchema),
});

export const NodeSpecSchema = z.discriminatedUnion("kind", [TaskNodeSchema, MapNodeSchema]);
export type NodeSpec = z.infer<typeof NodeSpecSchema>;

/** A workflow: typed inputs, a DAG of task nodes, and the binding of its result. */
export const WorkflowSpecSchema = z.object({
  name: EntityName,
  description: z.string().optional(),
  inputs: z.record(EntityName, JsonSchemaSchema),
  required: z.array(EntityName).default([]),
  nodes: z.array(NodeSpecSchema).max(10_000),
  output: BindingSchema,
});
export type WorkflowSpec = z.infer<typeof WorkflowSpecSchema>;
export type WorkflowSpecInput = z.input<typeof WorkflowSpecSchema>;

/** What a bundle holds, written at its root as `drydock-bundle.json`. */
export const BundleManifestSchema = z.object({
  formatVersion: z.literal(1),
  /** The registered file, relative to the bundle root. */
  entry: z.string(),
  /** Source files as the author wrote them, relative to the bundle root. */
  sources: z.array(z.string()),
  /** npm packages shipped in the bundle's node_modules, name → version. */
  packages: z.record(z.string(), z.string()),
  /**
   * The entry and its local sources compiled to one JavaScript module beside the entry (packages stay
   * imports), relative to the bundle root: what an attempt that neither pauses nor opens an IDE imports, without
   * a TypeScript loader. Absent from forks (their edits would make it stale) and where it cannot stand in.
   */
  compiled: z.string().optional(),
});
export type BundleManifest = z.infer<typeof BundleManifestSchema>;

export const CreateUploadInput = z.object({
  project: z.string(),
  sha256: Sha256,
  size: z.number().int().positive(),
});
export const CreateUploadOutput = z.object({
  exists: z.boolean(),
  /** Signed, expiring URL to PUT the bundle to; absent when the server already has it. */
  uploadUrl: z.string().optional(),
});

/** Where a git working tree stood when a version was registered from it. */
export const GitOriginSchema = z.object({
  /** The working tree's top-level directory on the registering machine. */
  toplevel: z.string().min(1),
  /** HEAD's commit (40 hex). */
  commit: z.string().regex(/^[0-9a-f]{40}$/, "a full git commit id"),
  /** HEAD's branch; absent on a detached HEAD. */
  branch: z.string().optional(),
  /** True when any of the bundle's source files differed from HEAD (changed, staged or untracked). */
  dirty: z.boolean(),
  /** Those files, relative to the bundle root. */
  dirtyFiles: z.array(z.string()).max(10_000).default([]),
});
export type GitOrigin = z.infer<typeof GitOriginSchema>;

/**
 * The files a version was registered from (`drydock register` records it): the machine, the directory that
 * became the bundle root, each source file's sha256 as packed, and the git working tree they lived in. With
 * it, `drydock changes --apply/--commit` knows where an IDE's edit goes and whether it still applies.
 */
export const SourceOriginSchema = z.object({
  host: z.string().min(1),
  root: z.string().min(1),
  /** Source path (relative to the bundle root) → sha256 of its content as registered. */
  files: z.record(z.string(), Sha256),
  git: GitOriginSchema.optional(),
});
export type SourceOrigin = z.infer<typeof SourceOriginSchema>;

/** How a forked version came to be: the version it was made from and the IDE edit applied to its sources. */
export const ForkLineageSchema = z.object({
  version: z.string(),
  executionId: z.string(),
  nodeId: z.string(),
  sessionId: z.string(),
  /** The unified diff applied to the parent version's sources. */
  patch: z.string(),
  /** The tasks whose code the edit changed. */
  changedTasks: z.array(EntityName),
});
export type ForkLineage = z.infer<typeof ForkLineageSchema>;

export const RegisterWorkflowsInput = z.object({
  project: z.string(),
  bundle: Sha256,
  entry: z.string().min(1),
  tasks: z.array(TaskSpecSchema).min(1).max(1_000),
  workflows: z.array(WorkflowSpecSchema).min(1).max(1_000),
  origin: SourceOriginSchema.optional(),
});
export type RegisterWorkflowsInput = z.infer<typeof RegisterWorkflowsInput>;

export const WorkflowVersionSchema = z.object({
  project: z.string(),
  name: EntityName,
  version: z.string(),
  bundle: Sha256,
  entry: z.string(),
  spec: WorkflowSpecSchema,
  tasks: z.array(TaskSpecSchema),
  createdAt: Timestamp,
  /** Where it was registered from (its latest registration); absent for a forked version. */
  origin: SourceOriginSchema.optional(),
  /** Set on a version made by `fork`: its parent version and the edit. */
  forkedFrom: ForkLineageSchema.optional(),
});
export type WorkflowVersion = z.infer<typeof WorkflowVersionSchema>;

export const RegisterWorkflowsOutput = z.object({
  workflows: z.array(z.object({ name: EntityName, version: z.string(), created: z.boolean() })),
});

export const WorkflowSummarySchema = z.object({
  project: z.string(),
  name: EntityName,
  latestVersion: z.string(),
  versions: z.number().int(),
  updatedAt: Timestamp,
});
export type WorkflowSummary = z.infer<typeof WorkflowSummarySchema>;

export const ListWorkflowsInput = z.object({ project: z.string() });
export const GetWorkflowInput = z.object({
  project: z.string(),
  name: EntityName,
  version: z.string().optional(),
});
