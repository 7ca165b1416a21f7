/**
 * A real HTTP control plane for the CLI's tests of people and projects, and of what `run --remote`, `debug` and
 * `resume` ask: the contracts' tRPC router (its access checks and input schemas included) served by tRPC's
 * own HTTP adapter, with in-memory handlers for the procedures those commands call, and a record of every
 * project-scoped call.
 */
import { createServer } from "node:http";
import type { IncomingMessage, RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

import { AppError } from "@drydock/contracts";
import type {
  ApiKey,
  AuditEntry,
  Execution,
  ExecutionDetail,
  InteractiveSession,
  Member,
  Role,
  SessionShare,
  User,
  UserRef,
  WorkflowVersion,
} from "@drydock/contracts";
import { createAppRouter } from "@drydock/contracts/router";
import type {
  AccessChecker,
  AppHandlers,
  AppRouter,
  ProjectAccess,
  RequestContext,
  UserPrincipal,
} from "@drydock/contracts/router";

type HttpHandlerFactory = (options: {
  router: AppRouter;
  createContext: (options: { req: IncomingMessage }) => RequestContext;
}) => RequestListener;

/**
 * tRPC's standalone HTTP adapter, from the @trpc/server the contracts' router is built with (one copy of
 * its classes on both sides). The CLI itself has no server dependency to import it from.
 */
async function loadHttpAdapter(): Promise<HttpHandlerFactory> {
  const here = createRequire(import.meta.url);
  const fromContracts = createRequire(here.resolve("@drydock/contracts/router"));
  const trpcServer = dirname(fromContracts.resolve("@trpc/server/package.json"));
  const adapter = (await import(
    pathToFileURL(join(trpcServer, "dist/adapters/standalone.mjs")).href
  )) as { createHTTPHandler: HttpHandlerFactory };
  return adapter.createHTTPHandler;
}

export type DevicePollStatus = "pending" | "slow_down" | "denied" | "expired" | "approved";

export interface TestKey {
  key: ApiKey;
  secret: string;
}

/** What the test control plane knows and what it was asked. */
export class TeamState {
  readonly users = new Map<string, User>();
  readonly keys: TestKey[] = [];
  projects: { id: string; name: string; role: Role }[] = [
    { id: "default", name: "Default", role: "admin" },
    { id: "team-a", name: "Team A", role: "editor" },
  ];
  members: Member[] = [];
  /** What `auth.devicePoll` answers, poll by poll (the last one repeats); none: no OpenID provider. */
  deviceAnswers?: DevicePollStatus[];
  deviceIntervalSeconds = 1;
  /** When each device poll arrived (ms). */
  readonly devicePolls: number[] = [];
  /** The audit log, newest first. */
  audit: AuditEntry[] = [];
  /** The inputs of every `audit.list`/`audit.listAll` page asked for. */
  readonly auditPages: { procedure: string; input: Record<string, unknown> }[] = [];
  /** The node `executions.node` describes: its sessions, newest last. */
  sessions: InteractiveSession[] = [];
  shares: SessionShare[] = [];
  /** A node's IDE edit as `drydock changes` finds it: the session's patch, its execution and version. */
  edit?: {
    changes: { sessionId: string; patch: string; savedAt?: string };
    detail: ExecutionDetail;
    version: WorkflowVersion;
  };
  /** What `executions.get` answers (else the edit's execution). */
  detail?: ExecutionDetail;
  /** The execution `executions.create` and `executions.debug` answer with. */
  launched?: Execution;
  /** What `sessions.resume` answers: the session, or the server's refusal. */
  resumeAnswer?: InteractiveSession | AppError;
  /** The input of every `executions.create`, `executions.debug` and `sessions.resume` call, in order. */
  readonly asked: { procedure: string; input: unknown }[] = [];
  /** Every project-scoped call: the access it needed and its input. */
  readonly projectCalls: { access: ProjectAccess; input: unknown; userId: string }[] = [];

  /** Adds a user with an API key and returns the key's secret. */
  addUser(id: string, name: string): string {
    this.users.set(id, {
      id,
      name,
      email: `${id}@example.test`,
      instanceAdmin: true,
      createdAt: new Date().toISOString(),
    });
    return this.addKey(id, "test key").secret;
  }

  addKey(userId: string, name: string, ceiling: Role = "admin"): TestKey {
    const n = this.keys.length + 1;
    const secret = `ddk_k${n}${"x".repeat(30)}`;
    const key: TestKey = {
      secret,
      key: {
        id: `key${n}`,
        name,
        prefix: `${secret.slice(0, 8)}…`,
        owner: this.userRef(userId),
        ceiling,
        createdAt: new Date().toISOString(),
      },
    };
    this.keys.push(key);
    return key;
  }

  userRef(id: string): UserRef {
    const user = this.users.get(id);
    if (!user) throw new AppError("USER_NOT_FOUND", "NOT_FOUND", `no user "${id}"`);
    return { id: user.id, name: user.name };
  }

  /** Who a bearer token proves: a live key's user, or nobody. */
  principal(token: string | undefined): UserPrincipal | null {
    const found = this.keys.find((k) => k.secret === token && !k.key.revokedAt);
    if (!found) return null;
    const user = this.users.get(found.key.owner.id);
    return {
      kind: "user",
      userId: found.key.owner.id,
      instanceAdmin: user?.instanceAdmin ?? false,
      via: "apiKey",
      ceiling: found.key.ceiling,
      apiKeyId: found.key.id,
    };
  }
}

const notServed = async (): Promise<never> => {
  throw new AppError("NOT_SERVED", "NOT_FOUND", "not served by the test control plane");
};
const notStreamed = () => ({ [Symbol.asyncIterator]: () => ({ next: notServed }) });

/** `audit.list`/`listAll`: the matching entries older than `before`, `limit` at a time, newest first. */
function auditPage(
  state: TeamState,
  procedure: string,
  input: { limit: number; before?: string; project?: string; actions?: string[] },
) {
  state.auditPages.push({ procedure, input: { ...input } });
  const matching = state.audit.filter(
    (e) =>
      (input.before === undefined || Number(e.id) < Number(input.before)) &&
      (input.project === undefined || e.project === input.project) &&
      (input.actions === undefined || input.actions.includes(e.action)),
  );
  const entries = matching.slice(0, input.limit);
  const last = entries.at(-1);
  return {
    entries,
    ...(matching.length > input.limit && last ? { nextBefore: last.id } : {}),
  };
}

function authHandlers(state: TeamState, baseUrl: () => string): AppHandlers["auth"] {
  let polls = 0;
  let codes = 0;
  return {
    methods: async () => ({ signInCode: true }),
    me: async (_input, ctx) => {
      const user = state.users.get(ctx.principal.userId);
      if (!user) throw new AppError("USER_NOT_FOUND", "NOT_FOUND", "no such user");
      return {
        user,
        via: ctx.principal.via,
        ...(ctx.principal.ceiling ? { ceiling: ctx.principal.ceiling } : {}),
        projects: state.projects,
      };
    },
    signInCode: async () => ({
      url: `${baseUrl()}/auth/code/one-time-${++codes}`,
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
    }),
    deviceStart: async () => {
      if (!state.deviceAnswers)
        throw new AppError("NO_OIDC", "PRECONDITION_FAILED", "no OpenID provider is configured");
      return {
        handle: "h1",
        userCode: "WDJB-MJHT",
        verificationUri: `${baseUrl()}/device`,
        verificationUriComplete: `${baseUrl()}/device?user_code=WDJB-MJHT`,
        intervalSeconds: state.deviceIntervalSeconds,
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
      };
    },
    devicePoll: async () => {
      state.devicePolls.push(Date.now());
      const answers = state.deviceAnswers ?? [];
      const status = answers[Math.min(polls++, answers.length - 1)] ?? "expired";
      if (status !== "approved") return { status };
      const [first] = state.users.keys();
      const made = state.addKey(first as string, "drydock login");
      return { status, apiKey: made.secret, user: state.userRef(first as string) };
    },
  };
}

function teamHandlers(state: TeamState, baseUrl: () => string) {
  const apiKeys: AppHandlers["apiKeys"] = {
    create: async (input, ctx) => {
      const made = state.addKey(ctx.principal.userId, input.name, input.ceiling);
      if (input.project) made.key.project = input.project;
      if (input.expiresInDays)
        made.key.expiresAt = new Date(Date.now() + input.expiresInDays * 86_400_000).toISOString();
      return { key: made.key, secret: made.secret };
    },
    list: async (_input, ctx) =>
      state.keys.filter((k) => k.key.owner.id === ctx.principal.userId).map((k) => k.key),
    revoke: async ({ id }) => {
      const found = state.keys.find((k) => k.key.id === id);
      if (!found) throw new AppError("API_KEY_NOT_FOUND", "NOT_FOUND", `no API key "${id}"`);
      found.key.revokedAt = new Date().toISOString();
      return found.key;
    },
    listProject: notServed,
    revokeProject: notServed,
  };
  const projects: AppHandlers["projects"] = {
    list: async () => state.projects.map((p) => ({ ...p, createdAt: "2026-12-01T00:00:00.000Z" })),
    create: async ({ id, name }) => {
      state.projects.push({ id, name, role: "admin" });
      return { id, name, createdAt: new Date().toISOString() };
    },
    members: async () => state.members,
    setMember: async ({ user, role }) => {
      state.members = state.members.filter((m) => m.user.id !== user);
      const known = state.users.get(user);
      if (role && known) state.members.push({ user: known, role, addedAt: known.createdAt });
      return state.members;
    },
  };
  return { auth: authHandlers(state, baseUrl), apiKeys, projects };
}

function sessionHandlers(state: TeamState): AppHandlers["sessions"] {
  return {
    ideTicket: notServed,
    resume: async (input) => {
      state.asked.push({ procedure: "sessions.resume", input });
      const answer = state.resumeAnswer;
      if (answer instanceof AppError) throw answer;
      return answer ?? notServed();
    },
    keepAlive: notServed,
    changes: async () => state.edit?.changes ?? notServed(),
    access: async ({ sessionId }) => ({
      sessionId,
      owner: state.userRef("ada"),
      shares: state.shares,
      openedBy: [],
      connected: [],
    }),
    share: async ({ user, expiresAt }, ctx) => {
      const share = {
        user: state.userRef(user),
        grantedBy: state.userRef(ctx.principal.userId),
        createdAt: new Date().toISOString(),
        expiresAt,
      };
      state.shares.push(share);
      return share;
    },
    revokeShare: async ({ user }) => {
      const share = state.shares.find((s) => s.user.id === user && !s.revokedAt);
      if (!share) throw new AppError("SHARE_NOT_FOUND", "NOT_FOUND", `not shared with "${user}"`);
      share.revokedAt = new Date().toISOString();
      return share;
    },
  };
}

/** The node `executions.node` answers with: one attempt per session, in order. */
function nodeWithSessions(state: TeamState, executionId: string, nodeId: string) {
  return {
    executionId,
    nodeId,
    task: "edit",
    status: "RUNNING" as const,
    attempts: state.sessions.map((session, i) => ({
      id: session.attemptId,
      executionId,
      nodeId,
      number: i + 1,
      status: "RUNNING" as const,
      createdAt: session.createdAt,
      session,
    })),
  };
}

function handlers(state: TeamState, baseUrl: () => string): AppHandlers {
  return {
    health: () => ({ ok: true, executor: "local", isolation: "none" }),
    ...teamHandlers(state, baseUrl),
    users: { list: async () => [...state.users.values()] },
    audit: {
      list: async (input) => auditPage(state, "list", input),
      listAll: async (input) => auditPage(state, "listAll", input),
    },
    workflows: {
      // Registration as `run --remote` needs it: the bundle is "already there", each workflow version v1.
      createUpload: async () => ({ exists: true }),
      register: async ({ workflows }) => ({
        workflows: workflows.map((w) => ({ name: w.name, version: "v1", created: true })),
      }),
      list: async () => [],
      get: async () => state.edit?.version ?? notServed(),
    },
    executions: {
      create: async (input) => {
        state.asked.push({ procedure: "executions.create", input });
        return state.launched ?? notServed();
      },
      list: async () => [],
      get: async () => state.detail ?? state.edit?.detail ?? notServed(),
      node: async ({ executionId, nodeId }) => nodeWithSessions(state, executionId, nodeId),
      abort: notServed,
      debug: async (input) => {
        state.asked.push({ procedure: "executions.debug", input });
        return state.launched ?? notServed();
      },
      recover: notServed,
      fork: notServed,
      logs: notServed,
      watch: notStreamed,
      watchList: notStreamed,
      tailLogs: notStreamed,
    },
    agent: {
      assignment: notServed,
      started: notServed,
      heartbeat: notServed,
      log: notServed,
      complete: notServed,
      fail: notServed,
      next: notServed,
      openSession: notServed,
      updateSession: notServed,
      endSession: notServed,
    },
    sessions: sessionHandlers(state),
    relay: {
      authorizeTunnel: notServed,
      redeemTicket: notServed,
      sessionReady: notServed,
      accessEvents: notStreamed,
      reportConnections: notServed,
    },
  };
}

/** Grants every project access, recording what was asked: where the tests see `--project` arrive. */
function recordingChecker(state: TeamState): AccessChecker {
  return {
    authorize: async (principal, access, input) => {
      state.projectCalls.push({ access, input, userId: principal.userId });
      const project = (input as { project?: string }).project ?? "default";
      return { project, role: "admin" };
    },
  };
}

export class TestControlPlane {
  private server: Server | undefined;
  url = "";

  constructor(readonly state = new TeamState()) {}

  /** Starts listening on a free port of 127.0.0.1 and returns the base URL. */
  async listen(): Promise<string> {
    const createHTTPHandler = await loadHttpAdapter();
    const trpc = createHTTPHandler({
      router: createAppRouter(handlers(this.state, () => this.url)),
      createContext: ({ req }) => ({
        principal: this.state.principal(/^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1]),
        requestId: "test",
        client: {},
        accessChecker: recordingChecker(this.state),
      }),
    });
    const server = createServer((req, res) => {
      if (!req.url?.startsWith("/trpc/")) {
        res.writeHead(404).end();
        return;
      }
      req.url = req.url.slice("/trpc".length);
      trpc(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
