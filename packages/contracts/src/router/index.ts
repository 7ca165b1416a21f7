/**
 * The tRPC router contract between Drydock's processes. The server supplies the handlers; clients
 * (CLI, console, agent, relay) import `type { AppRouter }` only. Each domain's procedures are declared once,
 * in its table (`executions.ts`, …): input and output schemas and who may call them. The handlers' types
 * and the router's types are derived from the tables, so a contract change is a change to one entry.
 */
import { TRPCError } from "@trpc/server";

import type { ContextByAccess } from "./access.js";
import { agentProcedures } from "./agent.js";
import { apiKeyProcedures } from "./api-keys.js";
import { auditProcedures } from "./audit.js";
import { authProcedures, userProcedures } from "./auth.js";
import { createRouter } from "./assemble.js";
import { executionProcedures } from "./executions.js";
import { healthProcedure } from "./health.js";
import type { HandlersOf } from "./procedure.js";
import { projectProcedures } from "./projects.js";
import { relayProcedures } from "./relay.js";
import { sessionProcedures } from "./sessions.js";
import { procedureFor, t } from "./trpc.js";
import { workflowProcedures } from "./workflows.js";

/** Every procedure of the app router, by domain. */
export const appProcedures = {
  health: healthProcedure,
  auth: authProcedures,
  users: userProcedures,
  apiKeys: apiKeyProcedures,
  projects: projectProcedures,
  audit: auditProcedures,
  workflows: workflowProcedures,
  executions: executionProcedures,
  agent: agentProcedures,
  sessions: sessionProcedures,
  relay: relayProcedures,
};

/** What the server implements (`h.executions.create(input, ctx)`); business logic lives behind these, free of HTTP. */
export type AppHandlers = HandlersOf<typeof appProcedures, ContextByAccess>;

/** Builds the router around the server's handlers. */
export function createAppRouter(handlers: AppHandlers) {
  return createRouter(t.router, procedureFor, appProcedures, handlers);
}

export type AppRouter = ReturnType<typeof createAppRouter>;

export { PROJECT_SCOPES } from "./access.js";
export type {
  Access,
  AccessChecker,
  AgentContext,
  ClientInfo,
  ContextByAccess,
  Principal,
  ProjectAccess,
  ProjectContext,
  ProjectGrant,
  ProjectScope,
  RelayContext,
  RequestContext,
  UserContext,
  UserPrincipal,
} from "./access.js";
export { ExecutorKindSchema, HealthSchema, IsolationSchema } from "./health.js";
export type { ExecutorKind, Isolation } from "./health.js";
export { TRPCError };
