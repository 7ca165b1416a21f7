/**
 * Every procedure of the router, called by each kind of caller over real HTTP against a seeded database:
 * the answer is exactly 401, 403 or the allowed one. A procedure whose access this test does not know, or
 * that has no fixture, fails it.
 */
import type { Role } from "@drydock/contracts";
import { roleAtLeast } from "@drydock/contracts";
import { appProcedures, createAppRouter } from "@drydock/contracts/router";
import type { Access, RequestContext } from "@drydock/contracts/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { testControlPlane } from "../__tests__/control-plane.js";
import type { TestControlPlane } from "../__tests__/control-plane.js";
import {
  CALLERS,
  DONE_EXECUTION,
  LIVE_ATTEMPT,
  LIVE_EXECUTION,
  LIVE_SESSION,
  WORKFLOW,
  seedTeam,
  seedWork,
} from "../__tests__/team-fixtures.js";
import type { Caller, Team } from "../__tests__/team-fixtures.js";

interface Declaration {
  kind: "query" | "mutation" | "subscription";
  access: Access;
}

/** Every procedure of a table, by dotted path. */
function procedures(table: object, prefix = ""): [string, Declaration][] {
  return Object.entries(table).flatMap(([name, entry]) => {
    const path = `${prefix}${name}`;
    const e = entry as Partial<Declaration>;
    return typeof e.kind === "string" && typeof e.access === "string"
      ? [[path, e as Declaration] as [string, Declaration]]
      : procedures(entry as object, `${path}.`);
  });
}

/** Each caller's role in project `default` (the fixtures' project), and whether it is an instance admin. */
const ROLE_IN_DEFAULT: Record<Caller, Role | undefined> = {
  none: undefined,
  viewer: "viewer",
  editor: "editor",
  admin: "admin",
  otherAdmin: undefined,
  viewerKey: "viewer",
  instanceAdmin: "admin",
};

/**
 * The fixture input of each procedure (by caller, where it must differ), and the status an allowed caller
 * gets when it is not 200, with why.
 */
const FIXTURES: Record<
  string,
  {
    input?: (caller: Caller) => unknown;
    allowed?: [number, string];
    /** Callers the access admits that the procedure itself refuses, with the status and why. */
    except?: Partial<Record<Caller, [number, string]>>;
  }
> = {
  health: {},
  "auth.methods": {},
  "auth.me": {},
  "auth.signInCode": {
    except: { viewerKey: [403, "a key below admin cannot mint a console sign-in"] },
  },
  "auth.deviceStart": { allowed: [412, "no OpenID provider is configured"] },
  "auth.devicePoll": {
    input: () => ({ handle: "h1" }),
    allowed: [412, "no OpenID provider is configured"],
  },
  "users.list": {},
  "apiKeys.create": {
    input: () => ({ name: "matrix" }),
    except: { viewerKey: [403, "a viewer-ceiling key cannot mint an editor-ceiling key"] },
  },
  "apiKeys.list": {},
  "apiKeys.revoke": { input: () => ({ id: "knone" }), allowed: [404, "no such key"] },
  "apiKeys.listProject": { input: () => ({ project: "default" }) },
  "apiKeys.revokeProject": {
    input: () => ({ project: "default", id: "knone" }),
    allowed: [404, "no such key"],
  },
  "projects.list": {},
  "projects.create": { input: (c) => ({ id: `p-${c.toLowerCase()}`, name: `By ${c}` }) },
  "projects.members": { input: () => ({ project: "default" }) },
  "projects.setMember": {
    input: () => ({ project: "default", user: "newcomer@example.com", role: "viewer" }),
  },
  "audit.list": { input: () => ({ project: "default" }) },
  "audit.listAll": { input: () => ({}) },
  "workflows.createUpload": {
    input: () => ({ project: "default", sha256: WORKFLOW.bundle, size: 1 }),
  },
  "workflows.register": { input: () => WORKFLOW },
  "workflows.list": { input: () => ({ project: "default" }) },
  "workflows.get": { input: () => ({ project: "default", name: "pipe" }) },
  "executions.create": {
    input: () => ({ project: "default", workflow: "pipe", inputs: { count: 1 } }),
  },
  "executions.list": { input: () => ({ project: "default" }) },
  "executions.get": { input: () => ({ id: LIVE_EXECUTION }) },
  "executions.node": { input: () => ({ executionId: LIVE_EXECUTION, nodeId: "n0" }) },
  "executions.abort": {
    input: () => ({ id: DONE_EXECUTION }),
    allowed: [409, "the execution already ended"],
  },
  "executions.debug": { input: () => ({ executionId: DONE_EXECUTION, nodeId: "n0" }) },
  "executions.recover": { input: () => ({ id: DONE_EXECUTION, force: ["n0"] }) },
  "executions.fork": {
    input: () => ({ executionId: DONE_EXECUTION, nodeId: "n0" }),
    allowed: [409, "the node's session saved no edits"],
  },
  "executions.logs": { input: () => ({ attemptId: LIVE_ATTEMPT }) },
  "executions.watch": { input: () => ({ id: LIVE_EXECUTION }) },
  "executions.watchList": { input: () => ({ project: "default" }) },
  "executions.tailLogs": { input: () => ({ attemptId: LIVE_ATTEMPT }) },
  "agent.assignment": {},
  "agent.started": { input: () => ({ pid: 1 }) },
  "agent.heartbeat": { input: () => ({}) },
  "agent.log": { input: () => ({ lines: [] }) },
  "agent.complete": { input: () => ({ outputsSha256: "0".repeat(64) }) },
  "agent.fail": { input: () => ({ error: { message: "x" } }) },
  "agent.next": {},
  "agent.openSession": { input: () => ({}) },
  "agent.updateSession": { input: () => ({}) },
  "agent.endSession": { input: () => ({ reason: "resumed" }) },
  "sessions.ideTicket": { input: () => ({ sessionId: LIVE_SESSION }) },
  "sessions.resume": { input: () => ({ executionId: LIVE_EXECUTION, nodeId: "n0" }) },
  "sessions.keepAlive": { input: () => ({ executionId: LIVE_EXECUTION, nodeId: "n0" }) },
  "sessions.changes": { input: () => ({ executionId: LIVE_EXECUTION, nodeId: "n0" }) },
  "sessions.access": { input: () => ({ sessionId: LIVE_SESSION }) },
  "sessions.share": {
    input: () => ({
      sessionId: LIVE_SESSION,
      user: "uviewer",
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    }),
  },
  // Runs after the same caller's share, which it ends.
  "sessions.revokeShare": { input: () => ({ sessionId: LIVE_SESSION, user: "uviewer" }) },
  "relay.authorizeTunnel": { input: () => ({ sessionId: LIVE_SESSION, agentToken: "t" }) },
  "relay.redeemTicket": { input: () => ({ sessionId: LIVE_SESSION, ticket: "t" }) },
  "relay.sessionReady": { input: () => ({ sessionId: LIVE_SESSION }) },
  "relay.accessEvents": {},
  "relay.reportConnections": { input: () => ({ relayId: "r1", sessions: [] }) },
};

/** 401 (not signed in as what the access wants), 403 (signed in, not allowed) or "allowed". */
function expected(access: Access, caller: Caller): 401 | 403 | "allowed" {
  if (access === "public") return "allowed";
  if (caller === "none" || access === "agent" || access === "relay") return 401;
  if (access === "signedIn") return "allowed";
  if (access === "instanceAdmin") return caller === "instanceAdmin" ? "allowed" : 403;
  const [wanted] = access.split("@") as [string];
  const role = ROLE_IN_DEFAULT[caller];
  // The fixtures' session was launched by the editor: its owner; nobody has a share when it is asked.
  if (wanted === "owner")
    return caller === "editor" || roleAtLeast(role, "admin") ? "allowed" : 403;
  if (wanted === "opener") return roleAtLeast(role, "editor") ? "allowed" : 403;
  if (wanted === "viewer" || wanted === "editor" || wanted === "admin")
    return roleAtLeast(role, wanted) ? "allowed" : 403;
  throw new Error(`the matrix does not know the access "${access}"`);
}

const STATUS_OF_CODE: Record<string, number> = { UNAUTHORIZED: 401, FORBIDDEN: 403 };

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

/** A subscription through the router's caller, with the context the server builds for these headers. */
async function subscribe(path: string, input: unknown, caller: Caller): Promise<number> {
  const headers = team.headers[caller];
  const token = headers.authorization?.replace(/^Bearer /, "");
  const principal =
    token !== undefined
      ? await t.plane.auth.principal(token)
      : await t.plane.auth.principalOfCookie(headers);
  const ctx: RequestContext = {
    principal,
    requestId: "matrix",
    client: {},
    accessChecker: t.plane.identity.checker,
  };
  const abort = new AbortController();
  const router = createAppRouter(t.plane.handlers);
  const call = path
    .split(".")
    .reduce<unknown>(
      (node, part) => (node as Record<string, unknown>)[part],
      router.createCaller(ctx, { signal: abort.signal }),
    ) as (input: unknown) => Promise<AsyncIterable<unknown>>;
  try {
    const events = await call(input);
    // The first event (a snapshot) proves the subscription was served.
    const iterator = events[Symbol.asyncIterator]();
    await Promise.race([iterator.next(), new Promise((r) => setTimeout(r, 300))]);
    abort.abort();
    await iterator.return?.();
    return 200;
  } catch (error) {
    abort.abort();
    const code = (error as { code?: string }).code ?? "";
    return STATUS_OF_CODE[code] ?? 500;
  }
}

describe("who may call each procedure", () => {
  it("answers every caller of every procedure exactly 401, 403 or allowed", async () => {
    const all = procedures(appProcedures);
    expect(all.length).toBeGreaterThan(40);
    const missing = all.filter(([path]) => !(path in FIXTURES)).map(([path]) => path);
    expect(missing, "procedures without a fixture").toEqual([]);

    const table = new Map<string, Record<string, string>>();
    const wrong: string[] = [];
    for (const caller of CALLERS) {
      for (const [path, declaration] of all) {
        const fixture = FIXTURES[path] ?? {};
        const input = fixture.input?.(caller);
        const want = expected(declaration.access, caller);
        const status =
          declaration.kind === "subscription"
            ? await subscribe(path, input, caller)
            : (
                await t.call(path, input, {
                  kind: declaration.kind,
                  headers: team.headers[caller],
                })
              ).status;
        const allowedStatus = fixture.except?.[caller]?.[0] ?? fixture.allowed?.[0] ?? 200;
        const ok = want === "allowed" ? status === allowedStatus : status === want;
        if (!ok)
          wrong.push(
            `${path} (${declaration.access}) as ${caller}: got ${status}, want ${want === "allowed" ? allowedStatus : want}`,
          );
        const row = table.get(path) ?? {};
        row[caller] = status === 401 || status === 403 ? String(status) : `✓`;
        table.set(path, row);
      }
    }
    console.log(
      [
        `| procedure | access | ${CALLERS.join(" | ")} |`,
        `|---|---|${CALLERS.map(() => "---").join("|")}|`,
        ...all.map(
          ([path, d]) =>
            `| ${path} | ${d.access} | ${CALLERS.map((c) => table.get(path)?.[c] ?? "?").join(" | ")} |`,
        ),
      ].join("\n"),
    );
    expect(wrong).toEqual([]);
  }, 120_000);

  it("refuses a caller without the role by naming the role, the project and what the caller is", async () => {
    const reply = await t.call(
      "executions.abort",
      { id: LIVE_EXECUTION },
      { kind: "mutation", headers: team.headers.viewer },
    );
    expect(reply.status).toBe(403);
    expect(reply.body.error?.message).toBe(
      "you need the editor role in project default (you are viewer)",
    );
    const key = await t.call(
      "executions.abort",
      { id: LIVE_EXECUTION },
      { kind: "mutation", headers: team.headers.viewerKey },
    );
    expect(key.body.error?.message).toBe(
      "you need the editor role in project default (you are viewer: your API key's ceiling)",
    );
    const unknown = await t.call(
      "executions.get",
      { id: "xnothing" },
      { headers: team.headers.admin },
    );
    expect(unknown.status).toBe(404);
  });
});
