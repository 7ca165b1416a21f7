import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AuditAction, AuditEntry } from "@drydock/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { TestControlPlane } from "./test/control-plane.js";
import { runCli } from "./test/run-cli.js";
import type { CliRunOptions } from "./test/run-cli.js";

let scratch: string;
let plane: TestControlPlane;
let adaKey: string;
let homes = 0;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "drydock-cli-team-"));
  plane = new TestControlPlane();
  adaKey = plane.state.addUser("ada", "Ada Lovelace");
  plane.state.addUser("bob", "Bob");
  await plane.listen();
});
afterAll(async () => {
  await plane?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A fresh DRYDOCK_HOME where Ada signed in with her API key. */
async function signedInHome(): Promise<string> {
  const home = join(scratch, `home-${++homes}`);
  const login = await runCli(["login", "--endpoint", plane.url, "--api-key", adaKey], { home });
  expect(login.code, login.stderr).toBe(0);
  return home;
}

const drydock = (args: string[], options: CliRunOptions) => runCli(args, options);

/** The project of each project-scoped call made since `from`, with the access it needed. */
const projectsAsked = (from: number) =>
  plane.state.projectCalls
    .slice(from)
    .map((c) => `${c.access} ${(c.input as { project?: string }).project ?? "-"}`);

describe("--project", { timeout: 120_000 }, () => {
  it("reaches the API from the flag, then DRYDOCK_PROJECT, then `projects use`, then default", async () => {
    const home = await signedInHome();
    const from = plane.state.projectCalls.length;
    const flag = await drydock(["executions", "list", "--project", "team-a"], { home });
    expect(flag.code, flag.stderr).toBe(0);
    const fromEnv = await drydock(["workflows", "list"], {
      home,
      env: { DRYDOCK_PROJECT: "team-b" },
    });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(fromEnv.stdout).toBe(
      "no workflows in project team-b yet (`drydock register <file>` adds them)\n",
    );
    const byDefault = await drydock(["members", "list"], { home });
    expect(byDefault.code, byDefault.stderr).toBe(0);

    const use = await drydock(["projects", "use", "team-a"], { home });
    expect(use.code, use.stderr).toBe(0);
    expect(use.stdout).toContain("commands now act in project team-a (Team A)");
    const used = await drydock(["executions", "list"], { home });
    expect(used.code, used.stderr).toBe(0);
    const list = await drydock(["projects", "list"], { home });
    expect(list.stdout).toMatch(/\*\s+team-a\s+Team A\s+editor/);

    expect(projectsAsked(from)).toEqual([
      "viewer@project team-a",
      "viewer@project team-b",
      "admin@project default",
      "viewer@project team-a",
    ]);
  });

  it("refuses a malformed project and one the user cannot see, naming it", async () => {
    const home = await signedInHome();
    const from = plane.state.projectCalls.length;
    const [flag, env, unknown] = await Promise.all([
      drydock(["executions", "list", "--project", "Team A"], { home }),
      drydock(["executions", "list"], { home, env: { DRYDOCK_PROJECT: "x_y" } }),
      drydock(["projects", "use", "nope"], { home }),
    ]);
    expect(flag).toMatchObject({ code: 2, stdout: "" });
    expect(flag.stderr).toBe(
      'error: --project "Team A" is not a project id (lower-case letters, digits and dashes, e.g. "team-a")\n',
    );
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('error: DRYDOCK_PROJECT "x_y" is not a project id');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      'error: no project "nope" among those you may see (default, team-a)\n',
    );
    expect(projectsAsked(from)).toEqual([]);
  });

  it("members set and remove change the project's members", async () => {
    const home = await signedInHome();
    const set = await drydock(["members", "set", "bob", "editor", "--project", "team-a"], { home });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("bob is editor in project team-a");
    expect(plane.state.members.map((m) => `${m.user.id} ${m.role}`)).toEqual(["bob editor"]);
    const bad = await drydock(["members", "set", "bob", "owner"], { home });
    expect(bad).toMatchObject({
      code: 2,
      stderr: 'error: the role must be one of viewer, editor, admin, not "owner"\n',
    });
    const removed = await drydock(["members", "remove", "bob", "--project", "team-a"], { home });
    expect(removed.code, removed.stderr).toBe(0);
    expect(plane.state.members).toEqual([]);
  });
});

/** `count` audit entries, newest first, ids counting down; every third is a share. */
function auditLog(count: number): AuditEntry[] {
  const start = Date.parse("2026-12-06T00:00:00Z");
  return Array.from({ length: count }, (_, i) => {
    const action: AuditAction = i % 3 === 0 ? "session.share" : "execution.create";
    return {
      id: String(count - i),
      at: new Date(start - i * 1_000).toISOString(),
      action,
      actor: { kind: "user", user: { id: "ada", name: "Ada Lovelace" }, via: "apiKey" },
      project: "default",
      executionId: `x${i}`,
      detail: action === "session.share" ? { user: "bob" } : {},
    };
  });
}

describe("drydock audit", { timeout: 120_000 }, () => {
  it("pages through every matching entry and prints them as one JSON array", async () => {
    const home = await signedInHome();
    plane.state.audit = auditLog(2_500);
    const pagesBefore = plane.state.auditPages.length;
    const r = await drydock(
      [
        "audit",
        "--since",
        "2026-11-01",
        "--until",
        "7d",
        "--action",
        "session.share,execution.create",
        "-o",
        "json",
      ],
      { home },
    );
    expect(r.code, r.stderr).toBe(0);
    const entries = JSON.parse(r.stdout) as AuditEntry[];
    expect(entries.map((e) => e.id)).toEqual(plane.state.audit.map((e) => e.id));
    const pages = plane.state.auditPages.slice(pagesBefore);
    expect(pages.map((p) => [p.procedure, p.input.before, p.input.project])).toEqual([
      ["list", undefined, "default"],
      ["list", "1501", "default"],
      ["list", "501", "default"],
    ]);
    expect(pages[0]?.input).toMatchObject({
      since: "2026-11-01T00:00:00.000Z",
      actions: ["session.share", "execution.create"],
      limit: 1_000,
    });
    const until = Date.parse(String(pages[0]?.input.until));
    expect(Math.abs(until - (Date.now() - 7 * 86_400_000))).toBeLessThan(120_000);
  });

  it("--all reads every project's entries; the table names each entry's actor and detail", async () => {
    const home = await signedInHome();
    plane.state.audit = auditLog(3);
    const pagesBefore = plane.state.auditPages.length;
    const r = await drydock(["audit", "--all", "--action", "session.share"], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(plane.state.auditPages.slice(pagesBefore).map((p) => p.procedure)).toEqual(["listAll"]);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^AT\s+ACTION\s+ACTOR\s+PROJECT\s+EXECUTION/);
    expect(lines.slice(1)).toHaveLength(1);
    expect(lines[1]).toMatch(/session\.share\s+ada \(key \?\)\s+default\s+x0.*\{"user":"bob"\}/);
  });

  it("refuses bad filters before calling the server", async () => {
    const home = await signedInHome();
    const [since, action, output] = await Promise.all([
      drydock(["audit", "--since", "yesterday"], { home }),
      drydock(["audit", "--action", "execution.create,nope"], { home }),
      drydock(["audit", "-o", "yaml"], { home }),
    ]);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain("error: --since must be an ISO date or time");
    expect(action.code).toBe(2);
    expect(action.stderr).toMatch(
      /^error: --action: "nope" is not an audited action \(they are: auth\.sign_in, /,
    );
    expect(output).toMatchObject({
      code: 2,
      stderr: 'error: --output must be "json" or "table", not "yaml"\n',
    });
  });
});

describe("drydock api-keys", { timeout: 120_000 }, () => {
  it("creates a key (its secret printed once, with how to use it), lists it and revokes it", async () => {
    const home = await signedInHome();
    const created = await drydock(
      [
        "api-keys",
        "create",
        "ci",
        "--ceiling",
        "viewer",
        "--project",
        "team-a",
        "--expires-in-days",
        "30",
      ],
      { home },
    );
    expect(created.code, created.stderr).toBe(0);
    const made = plane.state.keys.at(-1);
    expect(made?.key).toMatchObject({ name: "ci", ceiling: "viewer", project: "team-a" });
    expect(created.stdout).toContain(`\n  ${made?.secret}\n`);
    expect(created.stdout).toContain("This is the only time the key is shown");
    expect(created.stdout).toContain(`DRYDOCK_TOKEN=<key>`);
    expect(created.stdout).toContain(`drydock login --endpoint ${plane.url} --api-key -`);

    const list = await drydock(["api-keys", "list"], { home });
    expect(list.stdout).toMatch(new RegExp(`${made?.key.id}\\s+ci\\s+\\S+\\s+viewer\\s+team-a`));
    expect(list.stdout).not.toContain(made?.secret);
    const revoked = await drydock(["api-keys", "revoke", made?.key.id ?? ""], { home });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(made?.key.revokedAt).toEqual(expect.any(String));
  });

  it("refuses a bad ceiling or expiry, naming the flag", async () => {
    const home = await signedInHome();
    const [ceiling, days] = await Promise.all([
      drydock(["api-keys", "create", "ci", "--ceiling", "root"], { home }),
      drydock(["api-keys", "create", "ci", "--expires-in-days", "0"], { home }),
    ]);
    expect(ceiling).toMatchObject({
      code: 2,
      stderr: 'error: --ceiling must be one of viewer, editor, admin, not "root"\n',
    });
    expect(days).toMatchObject({
      code: 2,
      stderr: 'error: --expires-in-days must be a whole number from 1 to 366, not "0"\n',
    });
  });
});

describe("share, unshare and sessions access", { timeout: 120_000 }, () => {
  const session = (id: string, state: "READY" | "ENDED") => ({
    id,
    attemptId: `a-${id}`,
    state,
    maxIdleSeconds: 3_600,
    maxUnopenedSeconds: 900,
    limit: "idle" as const,
    extensionProblems: [],
    hasChanges: false,
    createdAt: new Date(
      Date.parse("2026-12-06T10:00:00Z") + Number(id.slice(1)) * 1_000,
    ).toISOString(),
    ...(state === "ENDED" ? { endReason: "resumed" as const } : {}),
  });

  it("shares the node's live session for --for, shows it in access, and ends it", async () => {
    const home = await signedInHome();
    plane.state.sessions = [session("s1", "ENDED"), session("s2", "READY")];
    plane.state.shares = [];
    const from = plane.state.projectCalls.length;
    const before = Date.now();
    const share = await drydock(["share", "x1", "n0", "--with", "bob", "--for", "8h"], { home });
    expect(share.code, share.stderr).toBe(0);
    expect(share.stdout).toContain(
      "shared the IDE of task n0 of execution x1 with Bob (bob) until",
    );
    const expires = Date.parse(plane.state.shares[0]?.expiresAt ?? "");
    expect(expires - before).toBeGreaterThanOrEqual(8 * 3_600_000);
    expect(expires - before).toBeLessThan(8 * 3_600_000 + 120_000);
    const calls = plane.state.projectCalls.slice(from).map((c) => [c.access, c.input]);
    expect(calls).toContainEqual([
      "owner@session",
      expect.objectContaining({ sessionId: "s2", user: "bob" }),
    ]);

    const access = await drydock(["sessions", "access", "x1", "n0"], { home });
    expect(access.code, access.stderr).toBe(0);
    expect(access.stdout).toContain(
      "IDE session s2 of task n0 of execution x1 (READY)\nowner: Ada Lovelace (ada)",
    );
    expect(access.stdout).toMatch(/Bob \(bob\)\s+Ada Lovelace \(ada\)\s+\S+\s+active/);
    expect(access.stdout).toContain("connected now: nobody");

    const unshare = await drydock(["unshare", "x1", "n0", "--with", "bob"], { home });
    expect(unshare.code, unshare.stderr).toBe(0);
    expect(plane.state.shares[0]?.revokedAt).toEqual(expect.any(String));
  });

  it("says why when the node has no live session", async () => {
    const home = await signedInHome();
    plane.state.sessions = [session("s1", "ENDED")];
    const ended = await drydock(["share", "x1", "n0", "--with", "bob"], { home });
    expect(ended).toMatchObject({ code: 1, stdout: "" });
    expect(ended.stderr).toBe(
      "error: the IDE session of task n0 of execution x1 has ended (resumed): only a live session can be shared\n",
    );
    plane.state.sessions = [];
    const none = await drydock(["unshare", "x1", "n0", "--with", "bob"], { home });
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      "error: task n0 of execution x1 has had no IDE session (is its task interactive, and has it started?)\n",
    );
    const [noWith, badFor] = await Promise.all([
      drydock(["share", "x1", "n0"], { home }),
      drydock(["share", "x1", "n0", "--with", "bob", "--for", "forever"], { home }),
    ]);
    expect(noWith.code).not.toBe(0);
    expect(noWith.stderr).toContain("required option '--with <user>' not specified");
    expect(badFor).toMatchObject({
      code: 2,
      stderr: 'error: --for must be a span like 30m, 8h, 7d or 2w (s, m, h, d, w), not "forever"\n',
    });
  });
});

describe("drydock console", { timeout: 60_000 }, () => {
  it("prints a fresh one-time sign-in link, never the credential", async () => {
    const home = await signedInHome();
    const [first, second] = [
      await drydock(["console"], { home }),
      await drydock(["console"], { home }),
    ];
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^${plane.url}/auth/code/one-time-\\d+\\n$`));
    expect(second.stdout).not.toBe(first.stdout);
    expect(first.stderr).toContain("one-time sign-in link, valid until");
    expect(`${first.stdout}${first.stderr}`).not.toContain(adaKey);
  });
});
