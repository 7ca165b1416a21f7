/** The audit log: an entry for each action, with who, how, from where and on what; append-only; filters. */
import type { AuditEntry } from "@drydock/contracts";
import { appProcedures } from "@drydock/contracts/router";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bearerHeader, testControlPlane } from "../__tests__/control-plane.js";
import type { TestControlPlane } from "../__tests__/control-plane.js";
import {
  DONE_EXECUTION,
  LIVE_AGENT_TOKEN,
  LIVE_EXECUTION,
  LIVE_SESSION,
  WORKFLOW,
  seedTeam,
  seedWork,
} from "../__tests__/team-fixtures.js";
import type { Team } from "../__tests__/team-fixtures.js";
import { CONSOLE_COOKIE } from "./sign-in.js";

let t: TestControlPlane;
let team: Team;
let entries: AuditEntry[];
const BROWSER = { "user-agent": "audit-test-browser" };

beforeAll(async () => {
  t = await testControlPlane();
  team = await seedTeam(t);
  await seedWork(t, team.userIds.editor);
});
afterAll(async () => {
  await t?.close();
});

/** A tRPC call that must succeed; its result. */
async function ok(
  path: string,
  input: unknown,
  headers: Record<string, string>,
  kind: "query" | "mutation" = "mutation",
) {
  const reply = await t.call(path, input, { kind, headers: { ...BROWSER, ...headers } });
  expect(reply.status, `${path}: ${reply.body.error?.message}`).toBe(200);
  return reply.body.result?.data as Record<string, unknown>;
}

async function listAll(input: Record<string, unknown> = {}) {
  const data = await ok("audit.listAll", input, team.headers.instanceAdmin, "query");
  return data as unknown as { entries: AuditEntry[]; nextBefore?: string };
}

describe("the audit log", () => {
  it("records every action of a journey with its actor, credential, client and references", async () => {
    // Signing in with a one-time code, as the admin.
    const { code } = await t.plane.identity.codes.issue(team.userIds.admin);
    const signIn = await t.plane.app.inject({
      url: `/auth/sign-in?code=${code}`,
      headers: BROWSER,
    });
    expect(signIn.statusCode).toBe(303);
    const cookieValue = signIn.cookies.find((c) => c.name === CONSOLE_COOKIE)?.value ?? "";
    const admin = { cookie: `${CONSOLE_COOKIE}=${cookieValue}` };

    const created = await ok("apiKeys.create", { name: "ci" }, admin);
    const key = (created.key as { id: string }).id;
    await ok("apiKeys.revoke", { id: key }, admin);
    await ok("workflows.register", WORKFLOW, team.headers.editor);
    const launched = await ok(
      "executions.create",
      { project: "default", workflow: "pipe", inputs: { count: 2 } },
      team.headers.editor,
    );
    // The execution records who launched it: the owner of its sessions.
    expect(launched.createdBy).toEqual({ id: "ueditor", name: "User ueditor" });
    const listed = (await ok(
      "executions.list",
      { project: "default" },
      team.headers.viewer,
      "query",
    )) as unknown as { id: string; createdBy?: unknown }[];
    expect(listed.find((e) => e.id === launched.id)?.createdBy).toEqual({
      id: "ueditor",
      name: "User ueditor",
    });
    await ok("executions.abort", { id: launched.id }, team.headers.editor);
    await ok(
      "executions.debug",
      { executionId: DONE_EXECUTION, nodeId: "n0" },
      team.headers.editor,
    );
    const recovered = await ok(
      "executions.recover",
      { id: DONE_EXECUTION, force: ["n0"] },
      team.headers.editor,
    );
    const ticket = await ok("sessions.ideTicket", { sessionId: LIVE_SESSION }, team.headers.editor);
    await ok(
      "relay.redeemTicket",
      {
        sessionId: LIVE_SESSION,
        ticket: new URL(ticket.url as string).searchParams.get("ticket"),
        client: { ip: "203.0.113.9", userAgent: "Chromium (the relay saw it)" },
      },
      bearerHeader(t.relayToken),
    );
    const node = { executionId: LIVE_EXECUTION, nodeId: "n0" };
    await ok("sessions.keepAlive", node, team.headers.editor);
    await ok("sessions.changes", node, team.headers.viewer, "query");
    const expiresAt = new Date(Date.now() + 600_000).toISOString();
    await ok("sessions.share", { sessionId: LIVE_SESSION, user: "uviewer", expiresAt }, admin);
    await ok("sessions.revokeShare", { sessionId: LIVE_SESSION, user: "uviewer" }, admin);
    await ok(
      "projects.setMember",
      { project: "default", user: "ann@example.com", role: "viewer" },
      admin,
    );
    await ok("projects.create", { id: "p-audit", name: "Audited" }, team.headers.instanceAdmin);
    await ok("auth.signInCode", undefined, admin);
    await ok("sessions.resume", node, team.headers.editor);
    // The IDE's own Resume Task arrives from the agent.
    await ok("agent.endSession", { reason: "resumed" }, bearerHeader(LIVE_AGENT_TOKEN));
    const out = await t.plane.app.inject({
      method: "POST",
      url: "/auth/sign-out",
      headers: { ...admin, ...BROWSER },
    });
    expect(out.statusCode).toBe(303);

    entries = (await listAll({ limit: 1_000 })).entries;
    const one = (action: string, which: (e: AuditEntry) => boolean = () => true) => {
      const found = entries.filter((e) => e.action === action && which(e));
      expect(found.length, action).toBeGreaterThanOrEqual(1);
      return found[0] as AuditEntry;
    };
    const adminActor = {
      kind: "user",
      user: { id: "uadmin", name: "User uadmin" },
      via: "session",
    };
    const editorActor = {
      kind: "user",
      user: { id: "ueditor", name: "User ueditor" },
      via: "session",
    };

    expect(one("auth.sign_in")).toMatchObject({
      actor: { kind: "user", user: { id: "uadmin" } },
      detail: { method: "code" },
      userAgent: "audit-test-browser",
    });
    expect(one("auth.sign_in").ip).toBeTruthy();
    expect(one("api_key.create")).toMatchObject({
      actor: adminActor,
      detail: { keyId: key, name: "ci" },
    });
    expect(one("api_key.revoke")).toMatchObject({ actor: adminActor, detail: { keyId: key } });
    expect(one("workflow.register")).toMatchObject({ actor: editorActor, project: "default" });
    expect(one("execution.create")).toMatchObject({
      actor: editorActor,
      project: "default",
      executionId: launched.id,
      detail: { workflow: "pipe" },
      userAgent: "audit-test-browser",
    });
    expect(one("execution.abort")).toMatchObject({ actor: editorActor, executionId: launched.id });
    expect(one("execution.debug")).toMatchObject({
      actor: editorActor,
      nodeId: "n0",
      detail: { of: { executionId: DONE_EXECUTION, nodeId: "n0" } },
    });
    expect(one("execution.recover")).toMatchObject({
      actor: editorActor,
      project: "default",
      executionId: recovered.id,
      detail: { parent: DONE_EXECUTION, force: ["n0"] },
    });
    const refs = {
      project: "default",
      executionId: LIVE_EXECUTION,
      nodeId: "n0",
      sessionId: LIVE_SESSION,
    };
    expect(one("ide_ticket.issue")).toMatchObject({ actor: editorActor, ...refs });
    expect(one("ide_ticket.redeem")).toMatchObject({
      actor: { kind: "user", user: { id: "ueditor" } },
      ...refs,
      ip: "203.0.113.9",
      userAgent: "Chromium (the relay saw it)",
    });
    expect(one("session.keep_alive")).toMatchObject({ actor: editorActor, ...refs });
    expect(one("session.changes")).toMatchObject({
      actor: { kind: "user", user: { id: "uviewer" } },
      ...refs,
    });
    expect(one("session.share")).toMatchObject({
      actor: adminActor,
      ...refs,
      detail: { userId: "uviewer", expiresAt },
    });
    expect(one("session.revoke_share")).toMatchObject({
      actor: adminActor,
      detail: { userId: "uviewer" },
    });
    expect(one("project.member_set")).toMatchObject({
      actor: adminActor,
      project: "default",
      detail: { user: "ann@example.com", role: "viewer", previousRole: null },
    });
    expect(one("project.create")).toMatchObject({
      actor: { kind: "user", user: { id: "uinstance" } },
      project: "p-audit",
    });
    expect(one("auth.sign_in_code")).toMatchObject({ actor: adminActor });
    expect(one("session.resume", (e) => e.actor.kind === "user")).toMatchObject({
      actor: editorActor,
      ...refs,
      detail: { choice: "edited" },
    });
    expect(one("session.resume", (e) => e.actor.kind === "agent")).toMatchObject({
      ...refs,
      detail: { choice: "edited", from: "ide" },
    });
    expect(one("auth.sign_out")).toMatchObject({ actor: { kind: "user", user: { id: "uadmin" } } });
  });

  it("filters by action, actor, execution and time, pages newest first, and scopes audit.list to its project", async () => {
    const byAction = (await listAll({ actions: ["execution.abort", "execution.create"] })).entries;
    expect(new Set(byAction.map((e) => e.action))).toEqual(
      new Set(["execution.abort", "execution.create"]),
    );
    const byActor = (await listAll({ actor: "uviewer@example.com" })).entries;
    expect(byActor.length).toBeGreaterThan(0);
    expect(byActor.every((e) => e.actor.user?.id === "uviewer")).toBe(true);
    const byExecution = (await listAll({ executionId: LIVE_EXECUTION })).entries;
    expect(byExecution.length).toBeGreaterThan(3);
    expect(byExecution.every((e) => e.executionId === LIVE_EXECUTION)).toBe(true);
    expect((await listAll({ since: new Date(Date.now() + 60_000).toISOString() })).entries).toEqual(
      [],
    );

    const first = await listAll({ limit: 3 });
    expect(first.entries.map((e) => e.id)).toEqual(entries.slice(0, 3).map((e) => e.id));
    const second = await listAll({ limit: 3, before: first.nextBefore });
    expect(second.entries.map((e) => e.id)).toEqual(entries.slice(3, 6).map((e) => e.id));
    const ids = entries.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const project = (await ok(
      "audit.list",
      { project: "default", limit: 1_000 },
      team.headers.admin,
      "query",
    )) as unknown as { entries: AuditEntry[] };
    expect(project.entries.length).toBeGreaterThan(5);
    expect(project.entries.every((e) => e.project === "default")).toBe(true);
  });

  it("is append-only: the server's own database role cannot update, delete or truncate it, and no procedure writes it", async () => {
    const [{ current_user }] = (
      await sql<{ current_user: string }>`SELECT current_user`.execute(t.db)
    ).rows as [{ current_user: string }];
    expect(current_user).toBe("drydock");
    const count = async () =>
      (
        await t.db
          .selectFrom("audit_log")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n;
    const before = await count();
    await expect(sql`UPDATE audit_log SET action = 'auth.sign_in'`.execute(t.db)).rejects.toThrow(
      /the audit log is append-only: UPDATE is refused/,
    );
    await expect(sql`DELETE FROM audit_log`.execute(t.db)).rejects.toThrow(
      /the audit log is append-only: DELETE is refused/,
    );
    await expect(sql`TRUNCATE audit_log`.execute(t.db)).rejects.toThrow(
      /the audit log is append-only: TRUNCATE is refused/,
    );
    expect(await count()).toBe(before);
    // The API reads the log and nothing more.
    expect(Object.values(appProcedures.audit).map((d) => d.kind)).toEqual(["query", "query"]);
  });
});
