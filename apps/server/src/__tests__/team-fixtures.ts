/**
 * A team and its work in a test control plane: people with each role in project `default`, an admin of
 * another project, an instance admin, a viewer-ceiling key of default's admin; a registered workflow, a
 * finished execution and a running one (node, attempt, live session) launched by the editor.
 */
import type { Role } from "@drydock/contracts";

import { CONSOLE_COOKIE } from "../identity/sign-in.js";
import { hashToken } from "../services/agent-token.js";
import { pipelineSpec, testTask } from "./pipeline.js";
import type { TestControlPlane } from "./control-plane.js";

export const BUNDLE = "c".repeat(64);
export const LIVE_EXECUTION = "xlivefixture0000";
export const DONE_EXECUTION = "xdonefixture0000";
export const LIVE_ATTEMPT = `${LIVE_EXECUTION}.n0.a1`;
export const LIVE_SESSION = "slivefixture000";
/** The live attempt's agent token. */
export const LIVE_AGENT_TOKEN = "agent-token-of-the-live-fixture";

export const CALLERS = [
  "none",
  "viewer",
  "editor",
  "admin",
  "otherAdmin",
  "viewerKey",
  "instanceAdmin",
] as const;
export type Caller = (typeof CALLERS)[number];

export interface Team {
  /** Request headers that authenticate each caller (none: no headers). */
  headers: Record<Caller, Record<string, string>>;
  userIds: Record<Exclude<Caller, "none" | "viewerKey">, string>;
}

async function addUser(
  t: TestControlPlane,
  id: string,
  opts: { role?: Role; project?: string; instanceAdmin?: boolean } = {},
): Promise<string> {
  await t.db
    .insertInto("users")
    .values({
      id,
      name: `User ${id}`,
      email: `${id}@example.com`,
      instance_admin: opts.instanceAdmin ?? false,
    })
    .execute();
  if (opts.role)
    await t.db
      .insertInto("project_members")
      .values({ project: opts.project ?? "default", user_id: id, role: opts.role })
      .execute();
  return id;
}

/** A console session cookie of `userId`, as the browser would send it. */
export async function cookieOf(
  t: TestControlPlane,
  userId: string,
): Promise<Record<string, string>> {
  const { cookie } = await t.plane.identity.webSessions.start(userId, {});
  return { cookie: `${CONSOLE_COOKIE}=${cookie}` };
}

export async function seedTeam(t: TestControlPlane): Promise<Team> {
  await t.db.insertInto("projects").values({ id: "other", name: "Other" }).execute();
  const userIds = {
    viewer: await addUser(t, "uviewer", { role: "viewer" }),
    editor: await addUser(t, "ueditor", { role: "editor" }),
    admin: await addUser(t, "uadmin", { role: "admin" }),
    otherAdmin: await addUser(t, "uother", { role: "admin", project: "other" }),
    instanceAdmin: await addUser(t, "uinstance", { instanceAdmin: true }),
  };
  const key = await t.plane.identity.apiKeys.create(userIds.admin, {
    name: "ci",
    ceiling: "viewer",
  });
  return {
    userIds,
    headers: {
      none: {},
      viewer: await cookieOf(t, userIds.viewer),
      editor: await cookieOf(t, userIds.editor),
      admin: await cookieOf(t, userIds.admin),
      otherAdmin: await cookieOf(t, userIds.otherAdmin),
      viewerKey: { authorization: `Bearer ${key.secret}` },
      instanceAdmin: await cookieOf(t, userIds.instanceAdmin),
    },
  };
}

export const WORKFLOW = {
  project: "default",
  bundle: BUNDLE,
  entry: "index.js",
  tasks: [testTask("range", ["n"]), testTask("square", ["x", "k"]), testTask("sum", ["xs"])],
  workflows: [pipelineSpec({ kind: "node", node: "n2" })],
};

/** The registered workflow, a finished execution and a running one with a live session, launched by `owner`. */
export async function seedWork(t: TestControlPlane, owner: string): Promise<void> {
  const { db } = t;
  await db.insertInto("bundles").values({ sha256: BUNDLE, size: 1 }).execute();
  await t.plane.services.workflows.register(WORKFLOW);
  const version = await t.plane.services.workflows.get("default", "pipe");
  for (const [id, status] of [
    [LIVE_EXECUTION, "RUNNING"],
    [DONE_EXECUTION, "SUCCEEDED"],
  ] as const) {
    await db
      .insertInto("executions")
      .values({
        id,
        project: "default",
        workflow: "pipe",
        version: version.version,
        status,
        inputs: JSON.stringify({ count: 1 }),
        created_by: owner,
      })
      .execute();
    await db
      .insertInto("node_executions")
      .values({
        execution_id: id,
        node_id: "n0",
        task: "range",
        status: status === "RUNNING" ? "RUNNING" : "SUCCEEDED",
        inputs: JSON.stringify({ n: 1 }),
      })
      .execute();
  }
  await db
    .insertInto("attempts")
    .values({
      id: LIVE_ATTEMPT,
      execution_id: LIVE_EXECUTION,
      node_id: "n0",
      number: 1,
      status: "RUNNING",
      token_hash: hashToken(LIVE_AGENT_TOKEN),
    })
    .execute();
  await db
    .insertInto("interactive_sessions")
    .values({
      id: LIVE_SESSION,
      attempt_id: LIVE_ATTEMPT,
      state: "READY",
      idle_deadline: new Date(Date.now() + 3_600_000),
    })
    .execute();
}
