import type { inferRouterInputs } from "@trpc/server";
import { describe, expect, it } from "vitest";

import { AppError } from "../errors.js";
import { isProcedureDeclaration } from "./procedure.js";
import type { ProcedureDeclaration, ProcedureTable } from "./procedure.js";
import { appProcedures, createAppRouter, TRPCError } from "./index.js";
import type { AppHandlers, AppRouter, Principal } from "./index.js";
import { t } from "./trpc.js";

const SHA = "a".repeat(64);
const NODE = { executionId: "x1", nodeId: "n0" };

/** A valid input of every procedure; typed as clients send them, so a new procedure must add one here. */
const inputs: inferRouterInputs<AppRouter> = {
  health: undefined,
  projects: { list: undefined },
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
  sessions: { ideTicket: { sessionId: "s1" }, resume: NODE, keepAlive: NODE, changes: NODE },
  relay: {
    authorizeTunnel: { sessionId: "s1", agentToken: "token" },
    redeemTicket: { sessionId: "s1", ticket: "ticket" },
    sessionReady: { sessionId: "s1" },
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
  principal: Principal["kind"] | undefined;
}

/** Handlers in the table's shape that record their call, then refuse it (so no output needs making up). */
function recordingHandlers(calls: Call[], table: ProcedureTable, prefix: string[] = []): object {
  const entries = Object.entries(table).map(([name, entry]): [string, unknown] => {
    const path = [...prefix, name];
    if (!isProcedureDeclaration(entry)) return [name, recordingHandlers(calls, entry, path)];
    return [
      name,
      (input: unknown, ctx: { principal: Principal | null }) => {
        calls.push({ path: path.join("."), input, principal: ctx.principal?.kind });
        throw new AppError("HANDLER_REACHED", "PRECONDITION_FAILED", path.join("."));
      },
    ];
  });
  return Object.fromEntries(entries);
}

const PRINCIPALS: Record<Principal["kind"] | "anonymous", Principal | null> = {
  anonymous: null,
  user: { kind: "user", userId: "u1" },
  agent: { kind: "agent", attemptId: "a1" },
  relay: { kind: "relay" },
};

/** What a caller lacking the access hears (the messages clients and users have always seen). */
const REFUSALS: Record<string, string> = {
  user: "a user token is required (drydock up prints one)",
  agent: "an attempt-scoped agent token is required",
  relay: "the relay token is required",
};

async function call(
  principal: Principal | null,
  path: string[],
  declaration: ProcedureDeclaration,
  handlers: object,
): Promise<unknown> {
  const caller = t.createCallerFactory(createAppRouter(handlers as AppHandlers))({
    principal,
    requestId: "r1",
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
      new Set(["health", "projects", "workflows", "executions", "agent", "sessions", "relay"]),
    );
    expect(all).toHaveLength(33);
  });

  it("lets the agent call its domain, a relay its own, anyone health, and only the user everything else", () => {
    const expected = (domain: string | undefined) =>
      ({ health: "public", agent: "agent", relay: "relay" })[domain ?? ""] ?? "user";
    for (const [path, declaration] of all)
      expect([path.join("."), declaration.access]).toEqual([path.join("."), expected(path[0])]);
  });

  it.each(
    all.map(
      ([path, declaration]) => [path.join("."), declaration.access, path, declaration] as const,
    ),
  )("%s: serves its %s callers and refuses the others", async (name, access, path, declaration) => {
    for (const [kind, principal] of Object.entries(PRINCIPALS)) {
      const calls: Call[] = [];
      const handlers = recordingHandlers(calls, appProcedures);
      const answer = call(principal, path, declaration, handlers);
      if (access === "public" || access === kind) {
        // A call's AppError reaches the caller mapped to its transport code; a stream's, as it was thrown.
        const reached =
          declaration.kind === "subscription"
            ? { code: "HANDLER_REACHED" }
            : { code: "PRECONDITION_FAILED" };
        await expect(answer).rejects.toMatchObject({ ...reached, message: name });
        // The handler got the input as its schema parsed it (defaults applied), and the caller's principal.
        const parsed = declaration.input ? declaration.input.parse(at(inputs, path)) : undefined;
        expect(calls).toEqual([{ path: name, input: parsed, principal: principal?.kind }]);
      } else {
        await expect(answer).rejects.toThrow(TRPCError);
        await expect(answer).rejects.toMatchObject({
          code: "UNAUTHORIZED",
          message: REFUSALS[access],
        });
        expect(calls).toEqual([]);
      }
    }
  });
});
