/**
 * A real HTTP control plane for the agent's tests: the contracts' tRPC router served by fastify, with
 * in-memory handlers that record every agent call, plus the blob routes behind the signed URLs.
 */
import type { AddressInfo } from "node:net";

import { AppError } from "@drydock/contracts";
import type {
  AgentEndSessionInput,
  AgentHeartbeatOutput,
  AgentUpdateSessionInput,
  AttemptAssignment,
  ErrorInfo,
} from "@drydock/contracts";
import { createAppRouter } from "@drydock/contracts/router";
import type { AgentContext, AppHandlers, RequestContext } from "@drydock/contracts/router";
import { fastifyTRPCPlugin } from "@trpc/server/adapters/fastify";
import type { CreateFastifyContextOptions } from "@trpc/server/adapters/fastify";
import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import type { z } from "zod";

import type { LogLine } from "../log-forwarder.js";

export interface ControlPlaneState {
  token: string;
  assignment: AttemptAssignment;
  bundles: Map<string, Buffer>;
  inputs: unknown;
  outputs: Map<string, Buffer>;
  heartbeatProceed: boolean;
  /** The next this-many requests get a proxy's 502 page, as while the server behind it restarts. */
  gatewayErrors: number;
  /** Thrown by agent.started after recording the call. */
  startedError?: AppError;
  /** Thrown by agent.complete after recording the call. */
  completeError?: AppError;
  /** Thrown by the next agent.fail calls, one each, after recording them. */
  failErrors: AppError[];
  /** Attempts `agent.next` hands over, in order; each comes with a fresh token. */
  handOver: AttemptAssignment[];
  /** Where `agent.openSession` tells the agent to dial the relay; unset, sessions are not served. */
  relayUrl?: string;
  /** Awaited before agent.assignment answers (a test looks at the agent meanwhile). */
  onAssignment?: () => Promise<void>;
  /** What the heartbeat answers about a session while one is open (opened and not ended). */
  sessionAnswer?: z.input<typeof AgentHeartbeatOutput>["session"];
  calls: {
    assignment: number;
    started: { pid: number }[];
    heartbeats: number;
    logs: LogLine[];
    complete: { outputsSha256: string }[];
    /** Outputs that came inside agent.complete (`outputsJson`), and PUTs of outputs to the upload URL. */
    inlineOutputs: number;
    uploads: number;
    /** GETs of the inputs' URL (an assignment without `inputs`). */
    inputReads: number;
    /** Calls of agent.next itself (`next` counts every ask, agent.complete's included). */
    nextCalls: number;
    fail: ErrorInfo[];
    bundleDownloads: number;
    next: number;
    openSession: unknown[];
    updateSession: z.output<typeof AgentUpdateSessionInput>[];
    endSession: z.output<typeof AgentEndSessionInput>[];
    /** The log lines the server had when the agent first reported the end (complete or fail). */
    linesAtEnd?: string[];
    /** TCP connections the agent opened to this server. */
    connections: number;
  };
}

export function newState(
  assignment: AttemptAssignment,
  bundles: Map<string, Buffer>,
): ControlPlaneState {
  return {
    token: "agent-token-1",
    assignment,
    bundles,
    inputs: {},
    outputs: new Map(),
    heartbeatProceed: true,
    gatewayErrors: 0,
    handOver: [],
    failErrors: [],
    calls: {
      connections: 0,
      assignment: 0,
      started: [],
      heartbeats: 0,
      logs: [],
      complete: [],
      inlineOutputs: 0,
      uploads: 0,
      inputReads: 0,
      nextCalls: 0,
      fail: [],
      bundleDownloads: 0,
      next: 0,
      openSession: [],
      updateSession: [],
      endSession: [],
    },
  };
}

const notServed = async (): Promise<never> => {
  throw new AppError("NOT_SERVED", "NOT_FOUND", "not served by the test control plane");
};
const notStreamed = () => ({ [Symbol.asyncIterator]: () => ({ next: notServed }) });

const ack = { ok: true as const };

/** The next attempt `state.handOver` holds, with a fresh token (as agent.next and agent.complete hand over). */
function handOver(
  state: ControlPlaneState,
): { token: string; assignment: AttemptAssignment } | null {
  state.calls.next++;
  const next = state.handOver.shift();
  if (!next) return null;
  state.assignment = next;
  state.token = `agent-token-${state.calls.next + 1}`;
  return { token: state.token, assignment: next };
}

/** What the agent calls, answered from (and recorded in) `state`. */
function agentHandlers(state: ControlPlaneState): AppHandlers["agent"] {
  return {
    assignment: async (_input, _ctx: AgentContext) => {
      state.calls.assignment++;
      await state.onAssignment?.();
      return state.assignment;
    },
    started: async (input) => {
      state.calls.started.push(input);
      if (state.startedError) throw state.startedError;
      return ack;
    },
    heartbeat: async () => {
      state.calls.heartbeats++;
      const open = state.calls.openSession.length > state.calls.endSession.length;
      return {
        proceed: state.heartbeatProceed,
        ...(open && state.sessionAnswer ? { session: state.sessionAnswer } : {}),
      };
    },
    log: async ({ lines }) => {
      state.calls.logs.push(...lines);
      return ack;
    },
    complete: async (input) => {
      // As the server does: the lines it carries are the log's last, and a small output comes inside it.
      state.calls.logs.push(...(input.lines ?? []));
      state.calls.linesAtEnd ??= state.calls.logs.map((l) => l.text);
      state.calls.complete.push({ outputsSha256: input.outputsSha256 });
      if (state.completeError) throw state.completeError;
      if (input.outputsJson !== undefined) {
        state.calls.inlineOutputs++;
        const attempt = state.assignment.attemptId;
        const existing = state.outputs.get(attempt);
        if (existing && existing.toString() !== input.outputsJson)
          throw new AppError("ATTEMPT_ENDED", "CONFLICT", "a different output is recorded");
        state.outputs.set(attempt, Buffer.from(input.outputsJson));
      }
      return input.next ? { ...ack, next: handOver(state) } : ack;
    },
    fail: async ({ error }) => {
      state.calls.linesAtEnd ??= state.calls.logs.map((l) => l.text);
      state.calls.fail.push(error);
      const refusal = state.failErrors.shift();
      if (refusal) throw refusal;
      return ack;
    },
    next: async () => {
      state.calls.nextCalls++;
      return { next: handOver(state) };
    },
    openSession: async (input) => {
      if (!state.relayUrl) return notServed();
      state.calls.openSession.push(input);
      return { sessionId: "s1", tunnel: { relayUrl: state.relayUrl, host: "s1.localhost" } };
    },
    updateSession: async (input) => {
      state.calls.updateSession.push(input);
      return ack;
    },
    endSession: async (input) => {
      state.calls.endSession.push(input);
      return ack;
    },
  };
}

/** The agent's procedures; every other one is refused, as a real control plane would not be asked them. */
function handlers(state: ControlPlaneState): AppHandlers {
  return {
    health: () => ({ ok: true, executor: "local", isolation: "none" }),
    auth: {
      methods: notServed,
      me: notServed,
      signInCode: notServed,
      deviceStart: notServed,
      devicePoll: notServed,
    },
    users: { list: notServed },
    apiKeys: {
      create: notServed,
      list: notServed,
      revoke: notServed,
      listProject: notServed,
      revokeProject: notServed,
    },
    projects: { list: notServed, create: notServed, members: notServed, setMember: notServed },
    audit: { list: notServed, listAll: notServed },
    workflows: { createUpload: notServed, register: notServed, list: notServed, get: notServed },
    executions: {
      create: notServed,
      list: notServed,
      get: notServed,
      node: notServed,
      abort: notServed,
      debug: notServed,
      recover: notServed,
      fork: notServed,
      logs: notServed,
      watch: notStreamed,
      watchList: notStreamed,
      tailLogs: notStreamed,
    },
    agent: agentHandlers(state),
    sessions: {
      ideTicket: notServed,
      resume: notServed,
      keepAlive: notServed,
      changes: notServed,
      access: notServed,
      share: notServed,
      revokeShare: notServed,
    },
    relay: {
      authorizeTunnel: notServed,
      redeemTicket: notServed,
      sessionReady: notServed,
      accessEvents: notStreamed,
      reportConnections: notServed,
    },
  };
}

export class TestControlPlane {
  private app: FastifyInstance | undefined;

  constructor(readonly state: ControlPlaneState) {}

  /** Starts listening (port 0: any free port) and returns the base URL. */
  async listen(port = 0): Promise<string> {
    const app = Fastify();
    const state = this.state;
    app.addHook("onRequest", async (_req, reply) => {
      if (state.gatewayErrors <= 0) return;
      state.gatewayErrors--;
      return reply.code(502).type("text/html").send("<html><body>502 Bad Gateway</body></html>");
    });
    await app.register(fastifyTRPCPlugin, {
      prefix: "/trpc",
      trpcOptions: {
        router: createAppRouter(handlers(state)),
        createContext: ({ req }: CreateFastifyContextOptions): RequestContext => ({
          principal:
            req.headers.authorization === `Bearer ${state.token}`
              ? { kind: "agent", attemptId: state.assignment.attemptId }
              : null,
          requestId: String(req.id),
          client: {},
        }),
      },
    });
    await app.register(async (blobs) => {
      blobs.removeAllContentTypeParsers();
      blobs.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) =>
        done(null, body),
      );
      blobs.get<{ Params: { sha: string } }>("/blobs/bundles/:sha", async (req, reply) => {
        state.calls.bundleDownloads++;
        const bundle = state.bundles.get(req.params.sha);
        return bundle
          ? reply.type("application/gzip").send(bundle)
          : reply.code(404).send({ error: "no such bundle" });
      });
      blobs.get("/blobs/inputs/:attempt", async (_req, reply) => {
        state.calls.inputReads++;
        return reply.type("application/json").send(JSON.stringify(state.inputs));
      });
      blobs.put<{ Params: { attempt: string }; Body: Buffer }>(
        "/blobs/outputs/:attempt",
        async (req, reply) => {
          state.calls.uploads++;
          const existing = state.outputs.get(req.params.attempt);
          if (existing && !existing.equals(req.body))
            return reply.code(409).send({ error: "a different output exists" });
          state.outputs.set(req.params.attempt, req.body);
          return reply.code(201).send({ ok: true });
        },
      );
    });
    app.server.on("connection", () => state.calls.connections++);
    await app.listen({ port, host: "127.0.0.1" });
    this.app = app;
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }
}
