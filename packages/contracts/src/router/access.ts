/**
 * Who may call a procedure of the app router. Each procedure declares one access; the router enforces it
 * before the handler runs (see `trpc.ts`), and the handler gets the context of that access.
 *
 * - `public`: anyone; `signedIn`: any user; `instanceAdmin`: a user who administers the instance.
 * - `<role>@<scope>`: a user with at least `role` in the project the input names — directly (`project`), or
 *   through the execution (`executionId` or `id`), attempt (`attemptId`) or session (`sessionId`) it names.
 *   An instance admin has every role everywhere; an API key acts with at most its ceiling.
 * - `opener@session`: may open the session's IDE: an editor of its project, or someone it is shared with.
 * - `owner@session`: may share the session: who launched its execution, or an admin of its project.
 * - `agent`: the agent of one attempt (attempt-scoped token); `relay`: a relay (the relay token).
 */
import type { CredentialKind, Role } from "../identity.js";
import { declareProcedures } from "./procedure.js";

/** A user, as a request proved it: a signed-in person, an API key (with its ceiling), or the local token. */
export interface UserPrincipal {
  kind: "user";
  userId: string;
  instanceAdmin: boolean;
  via: CredentialKind;
  /** An API key's role ceiling. */
  ceiling?: Role;
  /** The API key used, if any. */
  apiKeyId?: string;
  /** An API key limited to one project acts in no other. */
  onlyProject?: string;
}

/** Who is calling: a user, the agent of one attempt (attempt-scoped token), or a relay (the relay token). */
export type Principal = UserPrincipal | { kind: "agent"; attemptId: string } | { kind: "relay" };

/** Where the project a procedure acts on is found in its input. */
export const PROJECT_SCOPES = ["project", "execution", "attempt", "session"] as const;
export type ProjectScope = (typeof PROJECT_SCOPES)[number];

/** An access decided by the caller's role in one project. */
export type ProjectAccess = `${Role}@${ProjectScope}` | "opener@session" | "owner@session";

export type Access = "public" | "signedIn" | "instanceAdmin" | ProjectAccess | "agent" | "relay";

/** Who calls from where, for the audit log. */
export interface ClientInfo {
  ip?: string;
  userAgent?: string;
}

/**
 * Decides a project access for the router, given the procedure's parsed input: resolves the project (from
 * the input, or the execution, attempt or session it names) and the caller's standing there. Throws an
 * `AppError` (`FORBIDDEN`, or `NOT_FOUND` for a thing that does not exist) to refuse. The server supplies it.
 */
export interface AccessChecker {
  authorize(principal: UserPrincipal, access: ProjectAccess, input: unknown): Promise<ProjectGrant>;
}

/** The project a call acts on, and the caller's effective role there (`shared`: only through a share). */
export interface ProjectGrant {
  project: string;
  role: Role | "shared";
}

export interface RequestContext {
  principal: Principal | null;
  requestId: string;
  client: ClientInfo;
  /** Present on the server; without it every project access is refused. */
  accessChecker?: AccessChecker;
}
export type UserContext = RequestContext & { principal: UserPrincipal };
export type ProjectContext = UserContext & { grant: ProjectGrant };
export type AgentContext = RequestContext & { principal: Extract<Principal, { kind: "agent" }> };
export type RelayContext = RequestContext & { principal: Extract<Principal, { kind: "relay" }> };

/** The context a handler gets, by the access its procedure declares. */
export type ContextByAccess = {
  public: RequestContext;
  signedIn: UserContext;
  instanceAdmin: UserContext;
  agent: AgentContext;
  relay: RelayContext;
} & { [K in ProjectAccess]: ProjectContext };

/** `query("viewer@execution", { input: ExecutionIdInput, output: ExecutionDetailSchema })` and its siblings. */
export const { query, mutation, subscription } = declareProcedures<Access>();
