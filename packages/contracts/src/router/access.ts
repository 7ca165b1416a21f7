/**
 * Who may call a procedure of the app router. Each procedure declares one access; the router enforces it
 * before the handler runs (see `trpc.ts`), and the handler gets the context of that access.
 */
import { declareProcedures } from "./procedure.js";

/**
 * Who is calling: the local user (token), the agent of one attempt (attempt-scoped token), or a relay
 * (the relay token shared by the control plane and its relays).
 */
export type Principal =
  { kind: "user"; userId: string } | { kind: "agent"; attemptId: string } | { kind: "relay" };

export interface RequestContext {
  principal: Principal | null;
  requestId: string;
}
export type UserContext = RequestContext & { principal: Extract<Principal, { kind: "user" }> };
export type AgentContext = RequestContext & { principal: Extract<Principal, { kind: "agent" }> };
export type RelayContext = RequestContext & { principal: Extract<Principal, { kind: "relay" }> };

/** Anyone (`public`), or one of the principals. */
export type Access = "public" | Principal["kind"];

/** The context a handler gets, by the access its procedure declares. */
export interface ContextByAccess {
  public: RequestContext;
  user: UserContext;
  agent: AgentContext;
  relay: RelayContext;
}

/** `query("user", { input: ExecutionIdInput, output: ExecutionDetailSchema })` and its siblings, for the app router. */
export const { query, mutation, subscription } = declareProcedures<Access>();
