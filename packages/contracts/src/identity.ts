/**
 * People and what they may do: users, project roles, API keys, sharing a live session, and the audit log.
 * The procedures that use these are in `router/{auth,api-keys,projects,audit,sessions}.ts`; who may call each
 * is declared there (`router/access.ts`).
 */
import { z } from "zod";

import { ProjectId, Timestamp } from "./common.js";
import { AUDIT_ACTIONS, MAX_API_KEY_DAYS, ROLES } from "./constants.js";
import type { Role } from "./constants.js";

export { AUDIT_ACTIONS, lowerRole, MAX_API_KEY_DAYS, roleAtLeast, ROLES } from "./constants.js";
export type { AuditAction } from "./constants.js";

export const RoleSchema = z.enum(ROLES);
export type { Role };

/** The local admin `drydock up` signs in when no OpenID provider is configured. */
export const LOCAL_ADMIN_ID = "local";

/** A person, as others see them. */
export const UserRefSchema = z.object({ id: z.string(), name: z.string() });
export type UserRef = z.infer<typeof UserRefSchema>;

export const UserSchema = UserRefSchema.extend({
  email: z.string().optional(),
  instanceAdmin: z.boolean(),
  createdAt: Timestamp,
  /** When they last signed in; absent for someone added by email who has not signed in yet. */
  lastSignInAt: Timestamp.optional(),
});
export type User = z.infer<typeof UserSchema>;

/** How a request proved who it is. */
export const CredentialKind = z.enum(["session", "apiKey", "token"]);
export type CredentialKind = z.infer<typeof CredentialKind>;

/** `auth.me`: who I am, how I signed in, and the projects I may see with my role in each. */
export const MeSchema = z.object({
  user: UserSchema,
  via: CredentialKind,
  /** An API key's role ceiling: my role in any project is at most this. */
  ceiling: RoleSchema.optional(),
  projects: z.array(z.object({ id: ProjectId, name: z.string(), role: RoleSchema })),
});
export type Me = z.infer<typeof MeSchema>;

/** `auth.methods` (public): how this instance lets people sign in, for the console's sign-in page. */
export const SignInMethodsSchema = z.object({
  /** An OpenID Connect provider is configured: the page offers "Sign in with …" (`/auth/oidc/start`). */
  oidc: z.object({ name: z.string() }).optional(),
  /** One-time sign-in codes (`drydock up` prints a link holding one; `auth.signInCode` issues more). */
  signInCode: z.boolean(),
});

/** `auth.signInCode`: a single-use link that signs the caller into the console, and when it stops working. */
export const SignInLinkSchema = z.object({ url: z.string().url(), expiresAt: Timestamp });

export const ProjectWithRoleSchema = z.object({
  id: ProjectId,
  name: z.string(),
  createdAt: Timestamp,
  /** My role here; absent for an instance admin who is not a member. */
  role: RoleSchema.optional(),
});
export const CreateProjectInput = z.object({
  id: ProjectId,
  name: z.string().trim().min(1).max(200),
});
export const ProjectInput = z.object({ project: ProjectId });

export const MemberSchema = z.object({ user: UserSchema, role: RoleSchema, addedAt: Timestamp });
export type Member = z.infer<typeof MemberSchema>;
/**
 * `projects.setMember`: gives `user` (a user id or an email address) `role` in the project, or removes them
 * (`role: null`). An email nobody has signed in with yet adds a person who becomes that user at first sign-in.
 */
export const SetMemberInput = ProjectInput.extend({
  user: z.string().trim().min(1).max(320),
  role: RoleSchema.nullable(),
});

export const ApiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  /** The key's first characters, to recognise it (`ddk_ab12…`); the rest is never stored. */
  prefix: z.string(),
  owner: UserRefSchema,
  /** The highest role the key acts with in any project; its user's own role if lower. */
  ceiling: RoleSchema,
  /** Limits the key to one project. */
  project: ProjectId.optional(),
  createdAt: Timestamp,
  expiresAt: Timestamp.optional(),
  lastUsedAt: Timestamp.optional(),
  revokedAt: Timestamp.optional(),
});
export type ApiKey = z.infer<typeof ApiKeySchema>;
export const CreateApiKeyInput = z.object({
  name: z.string().trim().min(1).max(100),
  ceiling: RoleSchema.default("editor"),
  project: ProjectId.optional(),
  /** Days until the key stops working; none: until revoked. */
  expiresInDays: z.number().int().positive().max(MAX_API_KEY_DAYS).optional(),
});
/** The key itself is in `secret`, shown this once. */
export const CreatedApiKeySchema = z.object({ key: ApiKeySchema, secret: z.string() });
export const ApiKeyIdInput = z.object({ id: z.string().min(1) });
export const ProjectApiKeyInput = ProjectInput.extend({ id: z.string().min(1) });

export const AuditActionSchema = z.enum(AUDIT_ACTIONS);

export const AuditEntrySchema = z.object({
  /** Increasing with time; the cursor of `before`. */
  id: z.string(),
  at: Timestamp,
  action: AuditActionSchema,
  /** Who acted: a user (with how they proved it), or the platform itself (an IDE's Resume, reported by its agent). */
  actor: z.object({
    kind: z.enum(["user", "agent", "system"]),
    user: UserRefSchema.optional(),
    via: CredentialKind.optional(),
    apiKeyId: z.string().optional(),
  }),
  project: z.string().optional(),
  executionId: z.string().optional(),
  nodeId: z.string().optional(),
  sessionId: z.string().optional(),
  /** The action's particulars: a resume's choice, a share's teammate and expiry, a key's name… */
  detail: z.record(z.string(), z.unknown()),
  /** Where from: the client's address and user agent. */
  ip: z.string().optional(),
  userAgent: z.string().optional(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

const AuditFilter = z.object({
  since: Timestamp.optional(),
  until: Timestamp.optional(),
  actions: z.array(AuditActionSchema).max(AUDIT_ACTIONS.length).optional(),
  /** A user id or email. */
  actor: z.string().max(320).optional(),
  executionId: z.string().optional(),
  limit: z.number().int().positive().max(1_000).default(200),
  /** Entries older than this id (the previous page's `nextBefore`). */
  before: z.string().regex(/^\d+$/).optional(),
});
/** `audit.list`: one project's entries, newest first. */
export const ListAuditInput = AuditFilter.extend({ project: ProjectId });
/** `audit.listAll`: every entry, sign-ins and key changes included (instance admins). */
export const ListAllAuditInput = AuditFilter;
export const AuditPageSchema = z.object({
  entries: z.array(AuditEntrySchema),
  /** Pass as `before` for the next (older) page; absent on the last. */
  nextBefore: z.string().optional(),
});

/** `sessions.share`: lets `user` (id or email) open the session's IDE until `expiresAt`. */
export const ShareSessionInput = z.object({
  sessionId: z.string().min(1),
  user: z.string().trim().min(1).max(320),
  expiresAt: Timestamp,
});
export const RevokeShareInput = z.object({
  sessionId: z.string().min(1),
  user: z.string().trim().min(1).max(320),
});
export const SessionShareSchema = z.object({
  user: UserRefSchema,
  grantedBy: UserRefSchema,
  createdAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Timestamp.optional(),
});
export type SessionShare = z.infer<typeof SessionShareSchema>;

/** `sessions.access`: who owns a session, who it is shared with, who opened it, and who is connected now. */
export const SessionAccessSchema = z.object({
  sessionId: z.string(),
  /** Who launched the execution. */
  owner: UserRefSchema.optional(),
  shares: z.array(SessionShareSchema),
  openedBy: z.array(
    z.object({ user: UserRefSchema, firstAt: Timestamp, lastAt: Timestamp, times: z.number() }),
  ),
  connected: z.array(
    z.object({ user: UserRefSchema, connections: z.number().int().positive(), since: Timestamp }),
  ),
});
export type SessionAccess = z.infer<typeof SessionAccessSchema>;

/**
 * What the control plane tells its relays about IDE access (`relay.accessEvents`): first the revocations still
 * in force (a relay that restarts learns them), then each new one as it happens. A revoked user's cookies for
 * the session issued before `at` are refused, and their open connections closed at once.
 */
export const RelayAccessEventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("snapshot"),
    revoked: z.array(z.object({ sessionId: z.string(), userId: z.string(), at: Timestamp })),
  }),
  z.object({
    type: z.literal("revoked"),
    sessionId: z.string(),
    userId: z.string(),
    at: Timestamp,
  }),
]);
export type RelayAccessEvent = z.infer<typeof RelayAccessEventSchema>;

/**
 * `relay.reportConnections`: everyone connected through one relay now, by session (the whole picture each
 * time: a relay reports on change and at least every `CONNECTION_REPORT_SECONDS`).
 */
export const ReportConnectionsInput = z.object({
  relayId: z.string().min(1).max(100),
  sessions: z
    .array(
      z.object({
        sessionId: z.string(),
        users: z.array(
          z.object({
            userId: z.string(),
            connections: z.number().int().positive(),
            since: Timestamp,
          }),
        ),
      }),
    )
    .max(100_000),
});
/** A relay's report is trusted this long; a relay that stops reporting drops out of "connected now". */
export const CONNECTION_REPORT_SECONDS = 30;

/** `auth.deviceStart`: a CLI sign-in through the OpenID provider's device flow, proxied by the server. */
export const DeviceStartSchema = z.object({
  /** What the CLI polls with (`auth.devicePoll`); the provider's device code stays on the server. */
  handle: z.string(),
  userCode: z.string(),
  verificationUri: z.string().url(),
  verificationUriComplete: z.string().url().optional(),
  intervalSeconds: z.number().int().positive(),
  expiresAt: Timestamp,
});
export const DevicePollInput = z.object({ handle: z.string().min(1).max(200) });
/** Pending until the person approves; then an API key for the CLI (ceiling admin), shown this once. */
export const DevicePollSchema = z.discriminatedUnion("status", [
  z.object({ status: z.enum(["pending", "slow_down", "denied", "expired"]) }),
  z.object({ status: z.literal("approved"), apiKey: z.string(), user: UserRefSchema }),
]);
