import { createHash } from "node:crypto";

import type {
  ForkLineage,
  RegisterWorkflowsInput,
  SourceOrigin,
  TaskSpec,
  WorkflowSpec,
  WorkflowSummary,
  WorkflowVersion,
} from "@drydock/contracts";
import { findWorkflowProblems } from "@drydock/contracts";
import { sql } from "kysely";
import type { Kysely } from "kysely";

import type { BlobUrlSigner } from "../blobs/signing.js";
import type { Db } from "../db/database.js";
import type { Database } from "../db/schema.js";
import { ServerErrors } from "../errors.js";

export const bundleKey = (sha256: string) => `bundles/${sha256}.tgz`;

/** A workflow version's content: the bundle, entry and DAG, and the tasks its nodes run (by name). */
export interface VersionContent {
  project: string;
  bundle: string;
  entry: string;
  spec: WorkflowSpec;
  /** Every task the registration (or fork) knows; the version keeps those the DAG uses. */
  tasks: Map<string, TaskSpec>;
}

/** The version a workflow's content is stored under (a content hash), and the tasks it keeps. */
export function versionOf(content: VersionContent): { version: string; tasks: TaskSpec[] } {
  const { spec } = content;
  const tasks = [...new Set(spec.nodes.map((n) => n.task))]
    .sort()
    .map((name) => content.tasks.get(name) as TaskSpec);
  const version = createHash("sha256")
    .update(JSON.stringify({ bundle: content.bundle, entry: content.entry, spec, tasks }))
    .digest("hex")
    .slice(0, 16);
  return { version, tasks };
}

/**
 * Stores a workflow version under its content hash (the same content is the same version) and says whether
 * it was new. An `origin` given replaces the one an identical version had (the newest registration's wins);
 * `forkedFrom` is recorded when the version is new.
 */
export async function storeVersion(
  q: Kysely<Database>,
  content: VersionContent,
  from: { origin?: SourceOrigin; forkedFrom?: ForkLineage } = {},
): Promise<{ name: string; version: string; created: boolean }> {
  const { spec } = content;
  const { version, tasks: used } = versionOf(content);
  const origin = from.origin ? JSON.stringify(from.origin) : null;
  const row = await q
    .insertInto("workflow_versions")
    .values({
      project: content.project,
      name: spec.name,
      version,
      bundle: content.bundle,
      entry: content.entry,
      spec: JSON.stringify(spec),
      tasks: JSON.stringify(used),
      origin,
      forked_from: from.forkedFrom ? JSON.stringify(from.forkedFrom) : null,
    })
    .onConflict((oc) =>
      origin === null
        ? oc.doNothing()
        : oc.columns(["project", "name", "version"]).doUpdateSet({ origin }),
    )
    // xmax is 0 on a row this statement inserted, not on one it updated.
    .returning(sql<boolean>`(xmax = 0)`.as("inserted"))
    .executeTakeFirst();
  return { name: spec.name, version, created: row?.inserted === true };
}

/** Registration and lookup of workflow versions; a version is a content hash, so re-registering is free. */
export class WorkflowService {
  constructor(private readonly deps: { db: Db; signer: BlobUrlSigner }) {}

  async requireProject(project: string): Promise<void> {
    const row = await this.deps.db
      .selectFrom("projects")
      .select("id")
      .where("id", "=", project)
      .executeTakeFirst();
    if (!row) throw ServerErrors.projectNotFound(project);
  }

  async createUpload(input: { project: string; sha256: string; size: number }) {
    await this.requireProject(input.project);
    const existing = await this.deps.db
      .selectFrom("bundles")
      .select("sha256")
      .where("sha256", "=", input.sha256)
      .executeTakeFirst();
    if (existing) return { exists: true };
    return {
      exists: false,
      uploadUrl: this.deps.signer.sign("put", bundleKey(input.sha256), 3_600),
    };
  }

  /** Called when a bundle blob has been written through its signed URL. */
  async bundleUploaded(sha256: string, size: number): Promise<void> {
    await this.deps.db
      .insertInto("bundles")
      .values({ sha256, size })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async register(input: RegisterWorkflowsInput) {
    await this.requireProject(input.project);
    const bundle = await this.deps.db
      .selectFrom("bundles")
      .select("sha256")
      .where("sha256", "=", input.bundle)
      .executeTakeFirst();
    if (!bundle) throw ServerErrors.bundleMissing(input.bundle);
    const tasks = new Map<string, TaskSpec>();
    for (const t of input.tasks) {
      if (tasks.has(t.name))
        throw ServerErrors.invalidWorkflow(input.workflows[0]?.name ?? "?", [
          `task "${t.name}" is given twice`,
        ]);
      tasks.set(t.name, t);
    }
    for (const wf of input.workflows) {
      const problems = findWorkflowProblems(wf, tasks);
      if (problems.length > 0) throw ServerErrors.invalidWorkflow(wf.name, problems);
    }
    const results = [];
    for (const spec of input.workflows) {
      results.push(
        await storeVersion(
          this.deps.db,
          { project: input.project, bundle: input.bundle, entry: input.entry, spec, tasks },
          input.origin ? { origin: input.origin } : {},
        ),
      );
    }
    return { workflows: results };
  }

  async list(project: string): Promise<WorkflowSummary[]> {
    await this.requireProject(project);
    const rows = await this.deps.db
      .selectFrom("workflow_versions")
      .select((eb) => [
        "name",
        eb.fn.count<string>("version").as("versions"),
        eb.fn.max("created_at").as("updated_at"),
        sql<string>`(array_agg(version ORDER BY created_at DESC))[1]`.as("latest"),
      ])
      .where("project", "=", project)
      .groupBy("name")
      .orderBy("name")
      .execute();
    return rows.map((r) => ({
      project,
      name: r.name,
      latestVersion: r.latest,
      versions: Number(r.versions),
      updatedAt: new Date(r.updated_at).toISOString(),
    }));
  }

  async get(project: string, name: string, version?: string): Promise<WorkflowVersion> {
    await this.requireProject(project);
    let query = this.deps.db
      .selectFrom("workflow_versions")
      .selectAll()
      .where("project", "=", project)
      .where("name", "=", name);
    query = version
      ? query.where("version", "=", version)
      : query.orderBy("created_at", "desc").limit(1);
    const row = await query.executeTakeFirst();
    if (!row) throw ServerErrors.workflowNotFound(project, name, version);
    return {
      project: row.project,
      name: row.name,
      version: row.version,
      bundle: row.bundle,
      entry: row.entry,
      spec: row.spec as WorkflowSpec,
      tasks: row.tasks as TaskSpec[],
      createdAt: row.created_at.toISOString(),
      ...(row.origin ? { origin: row.origin } : {}),
      ...(row.forked_from ? { forkedFrom: row.forked_from } : {}),
    };
  }
}
