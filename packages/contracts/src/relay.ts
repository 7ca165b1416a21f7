import { z } from "zod";

import type { RelayAccessEvent } from "./identity.js";
import type { ReportConnectionsInput } from "./identity.js";

import { ErrorInfoSchema, Timestamp } from "./common.js";
import {
  ExtensionProblemSchema,
  PauseInfoSchema,
  RecordedResumeChoice,
  SessionEndReason,
} from "./sessions.js";

/**
 * A session id is one DNS label (lower-case letters, digits, hyphens; ≤ 63), because the relay serves each
 * session on its own origin: `<session>.<ide-host>`.
 */
export const SessionIdSchema = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    "a session id is one DNS label: a-z, 0-9 and '-', at most 63",
  );

export const SessionIdInput = z.object({ sessionId: SessionIdSchema });

/** Where an agent dials for its session's tunnel, and the origin browsers will use. */
export const TunnelEndpointSchema = z.object({
  /** The relay's address as the agent dials it (http: or https:). */
  relayUrl: z.string().url(),
  /** The Host the agent sends: the session's own host, so a load balancer hashing on Host sends the agent and its browsers to one relay. */
  host: z.string(),
});
export type TunnelEndpoint = z.infer<typeof TunnelEndpointSchema>;

/** agent.openSession: the attempt's interactive session (created once, then returned again). */
export const AgentOpenSessionInput = z
  .object({
    /** From the task's `vscode({ maxIdleSeconds })`; DEFAULT_MAX_IDLE_SECONDS when absent. */
    maxIdleSeconds: z.number().int().positive().optional(),
    /** From `vscode({ maxUnopenedSeconds })`; defaultMaxUnopenedSeconds(maxIdleSeconds) when absent. */
    maxUnopenedSeconds: z.number().int().positive().optional(),
    /** With runTaskFirst: the first run's error, shown on the session. */
    firstRunError: ErrorInfoSchema.optional(),
    /** The task's process is paused: where and why (post-mortem, or a pause point). */
    pause: PauseInfoSchema.optional(),
  })
  .optional();
export const AgentOpenSessionOutput = z.object({
  sessionId: SessionIdSchema,
  tunnel: TunnelEndpointSchema,
});

/** sessions.ideTicket: a short-lived, single-use link into the session's IDE for the calling user. */
export const IdeTicketOutput = z.object({
  /** `<session origin>/__drydock/redeem?ticket=…`; opening it sets the session cookie and redirects into the IDE. */
  url: z.string().url(),
  expiresAt: Timestamp,
});

/** relay.authorizeTunnel: may this agent token carry this session's tunnel? */
export const AuthorizeTunnelInput = z.object({
  sessionId: SessionIdSchema,
  agentToken: z.string().min(1),
});
export const AuthorizeTunnelOutput = z.object({
  sessionId: SessionIdSchema,
  attemptId: z.string(),
});

/** relay.redeemTicket: spends a ticket once; the answer says whom the relay's cookie is for. */
export const RedeemTicketInput = z.object({
  sessionId: SessionIdSchema,
  ticket: z.string().min(1).max(200),
  /** The browser that presents it, for the audit log. */
  client: z
    .object({ ip: z.string().max(100).optional(), userAgent: z.string().max(1_000).optional() })
    .optional(),
});
export const RedeemTicketOutput = z.object({ sessionId: SessionIdSchema, userId: z.string() });

/** agent.endSession: the attempt's live session ended, and why (a first run's error, when it failed). */
export const AgentEndSessionInput = z.object({
  reason: SessionEndReason,
  error: ErrorInfoSchema.optional(),
  /**
   * How a resumed session resumed, when the agent decided it (the IDE's commands, or the debugger continuing a
   * paused process); a resume asked for through the server is recorded there already.
   */
  resume: z.object({ choice: RecordedResumeChoice, by: z.string() }).optional(),
});

/** Largest patch of IDE edits the control plane keeps for one session. */
export const MAX_CHANGES_BYTES = 5 * 1024 * 1024;

/** agent.updateSession: what the agent learnt while the session runs. Absent fields are left as they are. */
export const AgentUpdateSessionInput = z.object({
  extensionProblems: z.array(ExtensionProblemSchema).optional(),
  /** The IDE's edits so far, as a unified diff against the registered sources ("" once they are undone). */
  changes: z.string().max(MAX_CHANGES_BYTES).optional(),
  /** The task's process paused (again), or `null` once it is no longer paused (it ran to its end). */
  pause: PauseInfoSchema.nullable().optional(),
});

/**
 * What the relay asks of the control plane. Both calls throw an `AppError` (UNAUTHORIZED / FORBIDDEN /
 * NOT_FOUND) on refusal; the relay maps that to 401/403 and proxies nothing.
 */
export interface RelayAuthority {
  authorizeTunnel(
    input: z.input<typeof AuthorizeTunnelInput>,
  ): Promise<z.output<typeof AuthorizeTunnelOutput>>;
  redeemTicket(
    input: z.input<typeof RedeemTicketInput>,
  ): Promise<z.output<typeof RedeemTicketOutput>>;
  /** The session's IDE answered through this relay: the control plane may show its link (STARTING → READY). */
  sessionReady(input: z.input<typeof SessionIdInput>): Promise<unknown>;
  /**
   * The revocations in force, then each new one, until `signal` aborts (the relay re-subscribes if the stream
   * breaks, and takes the next snapshot as the whole truth).
   */
  accessEvents(signal: AbortSignal): AsyncIterable<RelayAccessEvent>;
  /** Everyone connected through this relay now. */
  reportConnections(input: z.input<typeof ReportConnectionsInput>): Promise<unknown>;
}
