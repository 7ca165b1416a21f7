/**
 * The credentials people act with: one-time sign-in codes and console sessions, the local token, API keys
 * (hashed at rest, with a ceiling, an expiry, a project limit, revocable), and OpenID sign-ins.
 */
import { createHash } from "node:crypto";

import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bearerHeader, TEST_PUBLIC_URL, testControlPlane } from "../__tests__/control-plane.js";
import type { TestControlPlane } from "../__tests__/control-plane.js";
import { LIVE_EXECUTION, seedTeam, seedWork } from "../__tests__/team-fixtures.js";
import type { Team } from "../__tests__/team-fixtures.js";
import { CONSOLE_COOKIE, SignInService } from "./sign-in.js";

let t: TestControlPlane;
let team: Team;

beforeAll(async () => {
  t = await testControlPlane();
  team = await seedTeam(t);
  await seedWork(t, team.userIds.editor);
});
afterAll(async () => {
  await t?.close();
});

const me = (headers: Record<string, string>) => t.call("auth.me", undefined, { headers });

/** Spends a code at `GET /auth/sign-in`: the status and the console cookie it set. */
async function signIn(code: string) {
  const reply = await t.plane.app.inject({ url: `/auth/sign-in?code=${encodeURIComponent(code)}` });
  const value = reply.cookies.find((c) => c.name === CONSOLE_COOKIE)?.value;
  return { status: reply.statusCode, headers: { cookie: `${CONSOLE_COOKIE}=${value ?? ""}` } };
}

describe("sign-in codes and console sessions", () => {
  it("signs in once per code; an expired code, a spent one, or a revoked or expired session gets 401", async () => {
    const link = await t.call("auth.signInCode", undefined, {
      kind: "mutation",
      headers: bearerHeader(t.token),
    });
    const url = new URL((link.body.result?.data as { url: string }).url);
    expect(url.origin + url.pathname).toBe(`${TEST_PUBLIC_URL}/auth/sign-in`);
    const code = url.searchParams.get("code") ?? "";
    // Stored hashed, like every credential.
    const stored = await t.db.selectFrom("sign_in_codes").selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(code);

    const first = await signIn(code);
    expect(first.status).toBe(303);
    expect((await me(first.headers)).body.result?.data).toMatchObject({
      user: { id: "local", instanceAdmin: true },
      via: "session",
    });
    expect((await signIn(code)).status).toBe(401);

    await t.db.insertInto("users").values({ id: "ucodes", name: "Codes" }).execute();
    const { code: stale } = await t.plane.identity.codes.issue("ucodes");
    await t.db
      .updateTable("sign_in_codes")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("user_id", "=", "ucodes")
      .execute();
    expect((await signIn(stale)).status).toBe(401);

    const out = await t.plane.app.inject({
      method: "POST",
      url: "/auth/sign-out",
      headers: first.headers,
    });
    expect(out.statusCode).toBe(303);
    expect((await me(first.headers)).status).toBe(401);

    const { code: fresh } = await t.plane.identity.codes.issue("ucodes");
    const viewer = await signIn(fresh);
    expect((await me(viewer.headers)).status).toBe(200);
    await t.db
      .updateTable("web_sessions")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("user_id", "=", "ucodes")
      .execute();
    expect((await me(viewer.headers)).status).toBe(401);
  });

  it("knows the local token as the local admin, and says how people sign in", async () => {
    expect((await me(bearerHeader(t.token))).body.result?.data).toMatchObject({
      user: { id: "local", name: "Local admin", instanceAdmin: true },
      via: "token",
      projects: [
        { id: "default", role: "admin" },
        { id: "other", role: "admin" },
      ],
    });
    expect((await t.call("auth.methods", undefined)).body.result?.data).toEqual({
      signInCode: true,
    });
    expect((await me({ authorization: "Bearer not-a-credential" })).status).toBe(401);
  });
});

describe("API keys", () => {
  const create = (input: Record<string, unknown>, headers: Record<string, string>) =>
    t.call("apiKeys.create", input, { kind: "mutation", headers });

  it("are shown once and stored only as a hash, with a prefix to recognise them", async () => {
    const reply = await create({ name: "ci", ceiling: "viewer" }, team.headers.editor);
    expect(reply.status).toBe(200);
    const { key, secret } = reply.body.result?.data as {
      key: { id: string; prefix: string; ceiling: string; owner: { id: string } };
      secret: string;
    };
    expect(secret).toMatch(/^ddk_[\w-]{43}$/);
    expect(key).toMatchObject({
      prefix: secret.slice(0, 12),
      ceiling: "viewer",
      owner: { id: "ueditor" },
    });
    const row = await t.db
      .selectFrom("api_keys")
      .selectAll()
      .where("id", "=", key.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret.slice(12));
    expect(row.secret_hash).toBe(createHash("sha256").update(secret).digest("hex"));
    const listed = await t.call("apiKeys.list", undefined, { headers: team.headers.editor });
    expect(JSON.stringify(listed.body)).not.toContain(secret);
  });

  it("act with at most their ceiling, update last use, and stop at expiry or revocation", async () => {
    const reply = await create({ name: "read-only", ceiling: "viewer" }, team.headers.editor);
    const { key, secret } = reply.body.result?.data as { key: { id: string }; secret: string };
    const headers = bearerHeader(secret);
    expect((await t.call("executions.get", { id: LIVE_EXECUTION }, { headers })).status).toBe(200);
    const abort = await t.call(
      "executions.abort",
      { id: LIVE_EXECUTION },
      { kind: "mutation", headers },
    );
    expect(abort.status).toBe(403);
    expect(abort.body.error?.message).toMatch(/your API key's ceiling/);
    const used = await t.db
      .selectFrom("api_keys")
      .select("last_used_at")
      .where("id", "=", key.id)
      .executeTakeFirstOrThrow();
    expect(used.last_used_at).not.toBeNull();
    // A key cannot mint anything wider than itself.
    expect((await create({ name: "wider", ceiling: "editor" }, headers)).status).toBe(403);
    expect((await t.call("auth.signInCode", undefined, { kind: "mutation", headers })).status).toBe(
      403,
    );

    await t.db
      .updateTable("api_keys")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("id", "=", key.id)
      .execute();
    expect((await t.call("executions.get", { id: LIVE_EXECUTION }, { headers })).status).toBe(401);

    const other = await create({ name: "short", expiresInDays: 2 }, team.headers.editor);
    const second = other.body.result?.data as {
      key: { id: string; expiresAt: string };
      secret: string;
    };
    const days = (new Date(second.key.expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(1.99);
    expect(days).toBeLessThan(2.01);
    expect(
      (
        await t.call(
          "executions.get",
          { id: LIVE_EXECUTION },
          { headers: bearerHeader(second.secret) },
        )
      ).status,
    ).toBe(200);
    // Another person cannot revoke it; its owner can, and it stops working at once.
    const foreign = await t.call(
      "apiKeys.revoke",
      { id: second.key.id },
      { kind: "mutation", headers: team.headers.viewer },
    );
    expect(foreign.status).toBe(404);
    const revoked = await t.call(
      "apiKeys.revoke",
      { id: second.key.id },
      { kind: "mutation", headers: team.headers.editor },
    );
    expect(typeof (revoked.body.result?.data as { revokedAt?: unknown }).revokedAt).toBe("string");
    expect(
      (
        await t.call(
          "executions.get",
          { id: LIVE_EXECUTION },
          { headers: bearerHeader(second.secret) },
        )
      ).status,
    ).toBe(401);
  });

  it("limited to a project act nowhere else, not even with their user's instance-wide powers", async () => {
    const reply = await create(
      { name: "other only", ceiling: "admin", project: "other" },
      team.headers.instanceAdmin,
    );
    expect(reply.status).toBe(200);
    const { secret } = reply.body.result?.data as { secret: string };
    const headers = bearerHeader(secret);
    expect((await t.call("executions.list", { project: "other" }, { headers })).status).toBe(200);
    const elsewhere = await t.call("executions.list", { project: "default" }, { headers });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.error?.message).toBe(
      "this API key is limited to project other; it cannot act in project default",
    );
    expect((await t.call("users.list", undefined, { headers })).status).toBe(403);
    expect((await t.call("projects.list", undefined, { headers })).body.result?.data).toEqual([
      expect.objectContaining({ id: "other" }),
    ]);
    // Nor can it mint a key for another project, or one with no limit.
    expect((await create({ name: "x", project: "default" }, headers)).status).toBe(403);
    expect((await create({ name: "x" }, headers)).status).toBe(403);
    // A project's admin sees and revokes the keys limited to it.
    const listed = await t.call(
      "apiKeys.listProject",
      { project: "other" },
      { headers: team.headers.otherAdmin },
    );
    expect(listed.body.result?.data).toEqual([expect.objectContaining({ name: "other only" })]);
  });
});

describe("projects and members", () => {
  const setMember = (
    project: string,
    user: string,
    role: string | null,
    headers: Record<string, string>,
  ) => t.call("projects.setMember", { project, user, role }, { kind: "mutation", headers });

  it("makes a project's creator its admin, and never leaves a project without an admin", async () => {
    const created = await t.call(
      "projects.create",
      { id: "team-x", name: "Team X" },
      { kind: "mutation", headers: team.headers.instanceAdmin },
    );
    expect(created.status).toBe(200);
    const again = await t.call(
      "projects.create",
      { id: "team-x", name: "Again" },
      { kind: "mutation", headers: team.headers.instanceAdmin },
    );
    expect(again.status).toBe(409);
    const members = await t.call(
      "projects.members",
      { project: "team-x" },
      { headers: team.headers.instanceAdmin },
    );
    const listed = members.body.result?.data as { role: string; user: { id: string } }[];
    expect(listed.map((m) => [m.user.id, m.role])).toEqual([["uinstance", "admin"]]);
    const demoteLast = await setMember("team-x", "uinstance", "editor", team.headers.instanceAdmin);
    expect(demoteLast.status).toBe(409);
    expect(demoteLast.body.error?.message).toBe(
      "project team-x would have no admin left: make someone else admin first",
    );
    expect((await setMember("team-x", "uinstance", null, team.headers.instanceAdmin)).status).toBe(
      409,
    );
    // With a second admin, the first may go; a viewer sees the project, with their role.
    expect((await setMember("team-x", "ueditor", "admin", team.headers.instanceAdmin)).status).toBe(
      200,
    );
    expect((await setMember("team-x", "uinstance", null, team.headers.instanceAdmin)).status).toBe(
      200,
    );
    expect(
      (await setMember("team-x", "uviewer@example.com", "viewer", team.headers.editor)).status,
    ).toBe(200);
    const seen = await t.call("projects.list", undefined, { headers: team.headers.viewer });
    expect(seen.body.result?.data).toEqual([
      expect.objectContaining({ id: "default", role: "viewer" }) as unknown,
      expect.objectContaining({ id: "team-x", role: "viewer" }) as unknown,
    ]);
    expect((await setMember("team-x", "nobody-by-id", "viewer", team.headers.editor)).status).toBe(
      404,
    );
  });
});

describe("OpenID sign-ins", () => {
  it("link a person added by email at their first sign-in with that verified email, and make listed emails instance admins", async () => {
    const added = await t.call(
      "projects.setMember",
      { project: "default", user: "Ann@Example.com", role: "editor" },
      { kind: "mutation", headers: team.headers.admin },
    );
    expect(added.status).toBe(200);
    const pending = await t.plane.identity.users.find("ann@example.com");
    expect(pending?.last_sign_in_at).toBeNull();

    const { signIn } = t.plane.identity;
    const client = { ip: "198.51.100.7", userAgent: "test" };
    const ann = await signIn.userFromOidc(
      {
        issuer: "https://idp.example",
        subject: "ann-1",
        email: "ann@example.com",
        emailVerified: true,
        name: "Ann",
      },
      client,
    );
    expect(ann).toEqual({ id: pending?.id, name: "Ann" });
    // Unverified, the same email does not take over anyone.
    const mallory = await signIn.userFromOidc(
      {
        issuer: "https://idp.example",
        subject: "mallory",
        email: "ann@example.com",
        emailVerified: false,
      },
      client,
    );
    expect(mallory.id).not.toBe(ann.id);
    // The same subject again is the same person.
    const again = await signIn.userFromOidc(
      { issuer: "https://idp.example", subject: "ann-1", emailVerified: false },
      client,
    );
    expect(again.id).toBe(ann.id);

    const { cookie } = await signIn.startWebSession(ann.id, client);
    const asAnn = { cookie: `${CONSOLE_COOKIE}=${cookie}` };
    expect((await me(asAnn)).body.result?.data).toMatchObject({
      user: { id: ann.id, email: "ann@example.com", instanceAdmin: false },
      projects: [{ id: "default", role: "editor" }],
    });
    const cliKey = await signIn.issueCliKey(ann.id, "drydock login (test)", client);
    expect((await me(bearerHeader(cliKey))).body.result?.data).toMatchObject({
      via: "apiKey",
      ceiling: "admin",
    });

    const withAdmins = new SignInService({
      ...t.plane.identity,
      db: t.db,
      oidc: {
        issuer: "https://idp.example",
        clientId: "drydock",
        clientSecret: "s",
        name: "IdP",
        adminEmails: ["boss@example.com"],
      },
    });
    const boss = await withAdmins.userFromOidc(
      {
        issuer: "https://idp.example",
        subject: "boss",
        email: "Boss@example.com",
        emailVerified: true,
      },
      client,
    );
    expect((await t.plane.identity.users.byId(boss.id))?.instance_admin).toBe(true);

    const audit = await t.plane.identity.audit.list({ limit: 50, actions: ["auth.sign_in"] });
    const annSignIn = audit.entries.find((e) => e.actor.user?.id === ann.id);
    expect(annSignIn).toMatchObject({
      actor: { user: { id: ann.id, name: "Ann" } },
      detail: { method: "oidc" },
      ip: "198.51.100.7",
    });
  });
});
