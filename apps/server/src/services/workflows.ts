import { createHash } from "node:crypto";

import type {
  RegisterWorkflowsInput,
  TaskSpec,
  WorkflowSpec,
  WorkflowSummary,
  WorkflowVersion,
} from "@drydock/contracts";
import { findWorkflowProblems } from "@drydock/contracts";
import { sql } from "kysely";

import type { BlobUrlSigner } from "../blobs/signing.js";
import type { Db } from "../db/database.js";
import { ServerErrors } from "../errors.js";

export const bundleKey = (sha256: string) => `bundles/${sha256}.tgz`;

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
    const results = [];
    for (const wf of input.workflows) {
      const problems = findWorkflowProblems(wf, tasks);
      if (problems.length > 0) throw ServerErrors.invalidWorkflow(wf.name, problems);
      const used = [...new Set(wf.nodes.map((n) => n.task))]
        .sort()
        .map((name) => tasks.get(name) as TaskSpec);
      const version = createHash("sha256")
        .update(JSON.stringify({ bundle: input.bundle, entry: input.entry, spec: wf, tasks: used }))
        .digest("hex")
        .slice(0, 16);
      const inserted = await this.deps.db
        .insertInto("workflow_versions")
        .values({
          project: input.project,
          name: wf.name,
          version,
          bundle: input.bundle,
          entry: input.entry,
          spec: JSON.stringify(wf),
          tasks: JSON.stringify(used),
        })
        .onConflict((oc) => oc.doNothing())
        .returning("version")
        .executeTakeFirst();
      results.push({ name: wf.name, version, created: inserted !== undefined });
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
    };
  }
}
