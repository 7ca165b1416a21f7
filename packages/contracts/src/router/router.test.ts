import type { inferRouterInputs } from "@trpc/server";
import { describe, expect, it } from "vitest";

import { AppError } from "../errors.js";
import { isProcedureDeclaration } from "./procedure.js";
import type { ProcedureDeclaration, ProcedureTable } from "./procedure.js";
import { appProcedures, createAppRouter, TRPCError } from "./index.js";
import type {
  Access,
  AccessChecker,
  AppHandlers,
  AppRouter,
  Principal,
  ProjectGrant,
  UserPrincipal,
} from "./index.js";
import { procedureFor, t } from "./trpc.js";

const SHA = "a".repeat(64);
const NODE = { executionId: "x1", nodeId: "n0" };

/** A valid input of every procedure; typed as clients send them, so a new procedure must add one here. */
const inputs: inferRouterInputs<AppRouter> = {
  health: undefined,
  auth: {
    methods: undefined,
    me: undefined,
    signInCode: undefined,
    deviceStart: undefined,
    devicePoll: { handle: "h1" },
  },
  users: { list: undefined },
  apiKeys: {
    create: { name: "ci" },
    list: undefined,
    revoke: { id: "k1" },
    listProject: { project: "default" },
    revokeProject: { project: "default", id: "k1" },
  },
  projects: {
    list: undefined,
    create: { id: "team", name: "Team" },
    members: { project: "default" },
    setMember: { project: "default", user: "b@example.com", role: "viewer" },
  },
  audit: {
    list: { project: "default" },
    listAll: {},
  },
  workflows: {
    createUpload: { project: "default", sha256: SHA, size: 1 },
    register: {
      project: "default",
      bundle: SHA,
      entry: "workflow.ts",
      tasks: [{ name: "echo", inputs: {}, output: {} }],
      workflows: [{ name: "wf", inputs: {}, nodes: [], output: { kind: "literal", value: null } }],
    },
    list: { project: "default" },
    get: { project: "default", name: "wf" },
  },
  executions: {
    create: { project: "default", workflow: "wf" },
    list: { project: "default" },
    get: { id: "x1" },
    node: NODE,
    abort: { id: "x1" },
    debug: NODE,
    recover: { id: "x1" },
    fork: NODE,
    logs: { attemptId: "a1" },
    watch: { id: "x1" },
    watchList: { project: "default" },
    tailLogs: { attemptId: "a1" },
  },
  agent: {
    assignment: undefined,
    started: { pid: 1 },
    heartbeat: undefined,
    log: { lines: [] },
    complete: { outputsSha256: SHA },
    fail: { error: { message: "boom" } },
    next: undefined,
    openSession: undefined,
    updateSession: {},
    endSession: { reason: "resumed" },
  },
  sessions: {
    ideTicket: { sessionId: "s1" },
    resume: NODE,
    keepAlive: NODE,
    changes: NODE,
    access: { sessionId: "s1" },
    share: { sessionId: "s1", user: "b@example.com", expiresAt: "2026-12-06T13:00:00Z" },
    revokeShare: { sessionId: "s1", user: "b@example.com" },
  },
  relay: {
    authorizeTunnel: { sessionId: "s1", agentToken: "token" },
    redeemTicket: { sessionId: "s1", ticket: "ticket" },
    sessionReady: { sessionId: "s1" },
    accessEvents: undefined,
    reportConnections: { relayId: "r1", sessions: [] },
  },
};

function declarations(
  table: ProcedureTable,
  prefix: string[] = [],
): [string[], ProcedureDeclaration][] {
  return Object.entries(table).flatMap(([name, entry]) =>
    isProcedureDeclaration(entry)
      ? [[[...prefix, name], entry] as [string[], ProcedureDeclaration]]
      : declarations(entry, [...prefix, name]),
  );
}

const at = (tree: unknown, path: string[]): unknown =>
  path.reduce((node, key) => (node as Record<string, unknown>)[key], tree);

interface Call {
  path: string;
  input: unknown;
  principal: string | undefined;
}

/** Handlers in the table's shape that record their call, then refuse it (so no output needs making up). */
function recordingHandlers(calls: Call[], table: ProcedureTable, prefix: string[] = []): object {
  const entries = Object.entries(table).map(([name, entry]): [string, unknown] => {
    const path = [...prefix, name];
    if (!isProcedureDeclaration(entry)) return [name, recordingHandlers(calls, entry, path)];
    return [
      name,
      (input: unknown, ctx: { principal: Principal | null; grant?: ProjectGrant }) => {
        calls.push({ path: path.join("."), input, principal: nameOf(ctx.principal) });
        if (isProjectAccess(entry.access)) expect(ctx.grant).toEqual(GRANT);
        throw new AppError("HANDLER_REACHED", "PRECONDITION_FAILED", path.join("."));
      },
    ];
  });
  return Object.fromEntries(entries);
}

const user = (userId: string, extra: Partial<UserPrincipal> = {}): UserPrincipal => ({
  kind: "user",
  userId,
  instanceAdmin: false,
  via: "session",
  ...extra,
});

/** Callers: nobody, a member, an outsider (the checker refuses them), an instance admin, a viewer-ceiling key of an admin. */
const PRINCIPALS: Record<string, Principal | null> = {
  anonymous: null,
  member: user("member"),
  outsider: user("outsider"),
  admin: user("admin", { instanceAdmin: true }),
  viewerKey: user("admin", { instanceAdmin: true, via: "apiKey", ceiling: "viewer" }),
  agent: { kind: "agent", attemptId: "a1" },
  relay: { kind: "relay" },
};
const nameOf = (p: Principal | null | undefined) =>
  Object.entries(PRINCIPALS).find(([, v]) => v === p)?.[0];

const GRANT: ProjectGrant = { project: "default", role: "editor" };
const isProjectAccess = (access: string) => access.includes("@");

/** A checker that admits everyone but the outsider, and records what it was asked. */
function recordingChecker(asked: unknown[]): AccessChecker {
  return {
    authorize: (principal, access, input) => {
      asked.push({ user: principal.userId, access, input });
      if (principal.userId === "outsider")
        return Promise.reject(new AppError("NOT_A_MEMBER", "FORBIDDEN", "not a member"));
      return Promise.resolve(GRANT);
    },
  };
}

/** What each caller hears, by the procedure's access: reached (the handler ran), or the refusal's code. */
function expectedAnswer(access: Access, caller: string): "reached" | "UNAUTHORIZED" | "FORBIDDEN" {
  const principal = PRINCIPALS[caller];
  if (access === "public") return "reached";
  if (access === "agent" || access === "relay")
    return principal?.kind === access ? "reached" : "UNAUTHORIZED";
  if (principal?.kind !== "user") return "UNAUTHORIZED";
  if (access === "signedIn") return "reached";
  if (access === "instanceAdmin")
    return principal.instanceAdmin && (principal.ceiling ?? "admin") === "admin"
      ? "reached"
      : "FORBIDDEN";
  return caller === "outsider" ? "FORBIDDEN" : "reached";
}

async function call(
  principal: Principal | null,
  path: string[],
  declaration: ProcedureDeclaration,
  handlers: object,
  accessChecker: AccessChecker | undefined,
): Promise<unknown> {
  const caller = t.createCallerFactory(createAppRouter(handlers as AppHandlers))({
    principal,
    requestId: "r1",
    client: {},
    accessChecker,
  });
  const result = await (at(caller, path) as (input: unknown) => Promise<unknown>)(at(inputs, path));
  // A subscription's handler runs once its stream is read.
  return declaration.kind === "subscription"
    ? (result as AsyncIterable<unknown>)[Symbol.asyncIterator]().next()
    : result;
}

describe("createAppRouter", () => {
  const all = declarations(appProcedures);

  it("declares the procedures clients call, in every domain", () => {
    expect(all.map(([path]) => path.join("."))).toContain("executions.watch");
    expect(new Set(all.map(([path]) => path[0]))).toEqual(
      new Set([
        ...["health", "auth", "users", "apiKeys", "projects", "audit", "workflows"],
        ...["executions", "agent", "sessions", "relay"],
      ]),
    );
    expect(all).toHaveLength(56);
  });

  it("gives every procedure an access the router knows how to enforce", () => {
    const known = new Set(Object.keys(procedureFor));
    for (const [path, declaration] of all)
      expect([path.join("."), known.has(declaration.access)]).toEqual([path.join("."), true]);
    // Only the agent's and the relay's domains take their tokens; nothing else is open to anyone but health.
    for (const [path, declaration] of all) {
      const domain = path[0] ?? "";
      if (domain === "agent" || domain === "relay") expect(declaration.access).toBe(domain);
      else if (declaration.access === "public")
        expect(path.join(".")).toMatch(/^(health|auth\.(methods|deviceStart|devicePoll))$/);
    }
  });

  it.each(
    all.map(
      ([path, declaration]) => [path.join("."), declaration.access, path, declaration] as const,
    ),
  )("%s: serves its %s callers and refuses the others", async (name, access, path, declaration) => {
    for (const [caller, principal] of Object.entries(PRINCIPALS)) {
      const calls: Call[] = [];
      const asked: unknown[] = [];
      const handlers = recordingHandlers(calls, appProcedures);
      const answer = call(principal, path, declaration, handlers, recordingChecker(asked));
      const expected = expectedAnswer(access as Access, caller);
      const parsed = declaration.input ? declaration.input.parse(at(inputs, path)) : undefined;
      if (expected === "reached") {
        // A call's AppError reaches the caller mapped to its transport code; a stream's, as it was thrown.
        const reached =
          declaration.kind === "subscription"
            ? { code: "HANDLER_REACHED" }
            : { code: "PRECONDITION_FAILED" };
        await expect(answer).rejects.toMatchObject({ ...reached, message: name });
        // The handler got the input as its schema parsed it (defaults applied), and the caller's principal.
        expect(calls).toEqual([{ path: name, input: parsed, principal: caller }]);
      } else {
        await expect(answer).rejects.toThrow(TRPCError);
        await expect(answer).rejects.toMatchObject({ code: expected });
        expect(calls).toEqual([]);
      }
      // A project access asks the checker, with the parsed input, for every user caller.
      if (isProjectAccess(access) && principal?.kind === "user")
        expect(asked).toEqual([{ user: principal.userId, access, input: parsed }]);
      else expect(asked).toEqual([]);
    }
  });

  it("refuses every project access when the server gave no checker", async () => {
    const [path, declaration] = all.find(([p]) => p.join(".") === "executions.get")!;
    const calls: Call[] = [];
    const answer = call(
      PRINCIPALS.admin ?? null,
      path,
      declaration,
      recordingHandlers(calls, appProcedures),
      undefined,
    );
    await expect(answer).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(calls).toEqual([]);
  });
});
