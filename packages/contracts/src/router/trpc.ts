/**
 * The app router's tRPC root: how errors reach clients, and the procedure builder of each access — the one
 * place where who may call a procedure is enforced.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";

import { AppError } from "../errors.js";
import { ROLES } from "../identity.js";
import { PROJECT_SCOPES } from "./access.js";
import type { Access, Principal, ProjectAccess, RequestContext, UserPrincipal } from "./access.js";

function describeZodError(error: ZodError): string {
  return error.issues
    .map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

export const t = initTRPC.context<RequestContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const appCode =
      cause instanceof AppError
        ? cause.code
        : error.code === "BAD_REQUEST" && cause instanceof ZodError
          ? "INVALID_INPUT"
          : undefined;
    const message =
      cause instanceof ZodError ? `invalid request: ${describeZodError(cause)}` : shape.message;
    return { ...shape, message, data: { ...shape.data, appCode, stack: undefined } };
  },
});

/** Maps an AppError thrown by a handler to its transport code, once, here. */
const mapAppErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: cause.kind, message: cause.message, cause });
  }
  return result;
});

const publicProcedure = t.procedure.use(mapAppErrors);

/** A builder whose procedures refuse any caller but a `kind` principal, saying what they lack. */
function requiring<K extends Principal["kind"]>(kind: K, refusal: string) {
  return publicProcedure.use(({ ctx, next }) => {
    if (ctx.principal?.kind !== kind)
      throw new TRPCError({ code: "UNAUTHORIZED", message: refusal });
    return next({ ctx: { ...ctx, principal: ctx.principal as Extract<Principal, { kind: K }> } });
  });
}

const signedIn = requiring("user", "sign in first (the console, or `drydock login`)");

const instanceAdmin = signedIn.use(({ ctx, next }) => {
  // An API key below `admin`, or limited to one project, does not carry its user's instance-wide powers.
  const { instanceAdmin, ceiling, onlyProject } = ctx.principal;
  if (!instanceAdmin || (ceiling ?? "admin") !== "admin" || onlyProject !== undefined)
    throw new TRPCError({ code: "FORBIDDEN", message: "only an instance admin may do this" });
  return next();
});

/**
 * A project access: after the input is parsed, the server's checker resolves the project the input names
 * and refuses a caller without the role there; the handler gets the grant (project and role).
 */
const projectGuard = (access: ProjectAccess) =>
  t.middleware(async ({ ctx, input, next }) => {
    const principal = ctx.principal as UserPrincipal;
    if (!ctx.accessChecker)
      throw new TRPCError({ code: "FORBIDDEN", message: "no access checker: refused" });
    const grant = await ctx.accessChecker.authorize(principal, access, input);
    return next({ ctx: { ...ctx, principal, grant } });
  });

/** The part of a procedure builder this file hands out: `.input()` and `.use()` (see `assemble.ts`). */
export type ProcedureFactory = (input: unknown) => unknown;

interface BuilderLike {
  input(schema: unknown): BuilderLike;
  use(middleware: unknown): BuilderLike;
}
const plain =
  (builder: unknown): ProcedureFactory =>
  (input) =>
    input === undefined ? builder : (builder as BuilderLike).input(input);
const scoped =
  (access: ProjectAccess): ProcedureFactory =>
  (input) => {
    const withInput =
      input === undefined
        ? (signedIn as unknown as BuilderLike)
        : (signedIn as unknown as BuilderLike).input(input);
    return withInput.use(projectGuard(access));
  };

const projectAccesses: ProjectAccess[] = [
  ...ROLES.flatMap((role) => PROJECT_SCOPES.map((scope) => `${role}@${scope}` as const)),
  "opener@session",
  "owner@session",
];

/** The procedure builder of each access, given the procedure's input schema: where every access is enforced. */
export const procedureFor = {
  public: plain(publicProcedure),
  signedIn: plain(signedIn),
  instanceAdmin: plain(instanceAdmin),
  agent: plain(requiring("agent", "an attempt-scoped agent token is required")),
  relay: plain(requiring("relay", "the relay token is required")),
  ...(Object.fromEntries(projectAccesses.map((a) => [a, scoped(a)])) as Record<
    ProjectAccess,
    ProcedureFactory
  >),
} satisfies Record<Access, ProcedureFactory>;
