/**
 * The app router's tRPC root: how errors reach clients, and the procedure builder of each access — the one
 * place where who may call a procedure is enforced.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";

import { AppError } from "../errors.js";
import type { Access, Principal, RequestContext } from "./access.js";

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

/** The procedure builder of each access. */
export const procedureFor = {
  public: publicProcedure,
  user: requiring("user", "a user token is required (drydock up prints one)"),
  agent: requiring("agent", "an attempt-scoped agent token is required"),
  relay: requiring("relay", "the relay token is required"),
} satisfies Record<Access, unknown>;
