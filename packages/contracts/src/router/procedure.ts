/**
 * A procedure is declared once, as a plain object: its kind, who may call it, and its schemas. A router
 * contract is a table of these (one per domain); the handlers' types and the tRPC router's types are both
 * derived from the table, so the two cannot drift apart.
 */
import type {
  AnyTRPCRootTypes,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
  TRPCSubscriptionProcedure,
} from "@trpc/server";
import type { z } from "zod";

declare const eventMarker: unique symbol;

/** What a subscription streams, as a type only: the events are the server's own values and are not validated again. */
export interface EventType<TEvent> {
  readonly [eventMarker]?: TEvent;
}

/** `subscription("user", { input, event: eventType<LogChunk>() })`: names the type of a subscription's events. */
export function eventType<TEvent>(): EventType<TEvent> {
  return {};
}

/** A query or a mutation: called with its input, answers once with its output. */
export interface CallDeclaration<
  TKind extends "query" | "mutation",
  TAccess extends string,
  TInput extends z.ZodType | undefined,
  TOutput extends z.ZodType,
> {
  readonly kind: TKind;
  readonly access: TAccess;
  readonly input: TInput;
  readonly output: TOutput;
}

/** A subscription: called with its input, streams events until the caller or the handler stops. */
export interface SubscriptionDeclaration<
  TAccess extends string,
  TInput extends z.ZodType | undefined,
  TEvent,
> {
  readonly kind: "subscription";
  readonly access: TAccess;
  readonly input: TInput;
  readonly event: EventType<TEvent>;
}

export type ProcedureDeclaration =
  | CallDeclaration<"query" | "mutation", string, z.ZodType | undefined, z.ZodType>
  | SubscriptionDeclaration<string, z.ZodType | undefined, unknown>;

/** Procedures by name, and tables of them by domain. */
export interface ProcedureTable {
  readonly [name: string]: ProcedureDeclaration | ProcedureTable;
}

/**
 * The three declaring functions of a router whose procedures take one of `TAccess`; each router binds its own
 * (`const { query, mutation, subscription } = declareProcedures<Access>()`), so an unknown access does not compile.
 */
export function declareProcedures<TAccess extends string>() {
  const call =
    <TKind extends "query" | "mutation">(kind: TKind) =>
    <A extends TAccess, O extends z.ZodType, I extends z.ZodType | undefined = undefined>(
      access: A,
      schemas: { input?: I; output: O },
    ): CallDeclaration<TKind, A, I, O> => ({
      kind,
      access,
      input: schemas.input as I,
      output: schemas.output,
    });
  return {
    /** A procedure that reads. */
    query: call("query"),
    /** A procedure that changes something. */
    mutation: call("mutation"),
    /** A procedure that streams events of type `TEvent`. */
    subscription: <A extends TAccess, TEvent, I extends z.ZodType | undefined = undefined>(
      access: A,
      schemas: { input?: I; event: EventType<TEvent> },
    ): SubscriptionDeclaration<A, I, TEvent> => ({
      kind: "subscription",
      access,
      input: schemas.input as I,
      event: schemas.event,
    }),
  };
}

/** The input a handler gets (parsed: defaults applied); a procedure without input gets none. */
type ParsedInput<TInput> = TInput extends z.ZodType ? z.output<TInput> : void;
/** The input a caller sends (before parsing). */
type SentInput<TInput> = TInput extends z.ZodType ? z.input<TInput> : void;

/**
 * The function that serves one declared procedure, given the context of its access: `(input, ctx)` answering
 * what the output schema accepts, or, for a subscription, `(input, ctx, signal)` streaming its events.
 */
export type HandlerOf<TDeclaration, TContexts> =
  TDeclaration extends SubscriptionDeclaration<infer A, infer I, infer E>
    ? (
        input: ParsedInput<I>,
        ctx: TContexts[A & keyof TContexts],
        signal: AbortSignal,
      ) => AsyncIterable<E>
    : TDeclaration extends CallDeclaration<"query" | "mutation", infer A, infer I, infer O>
      ? (
          input: ParsedInput<I>,
          ctx: TContexts[A & keyof TContexts],
        ) => z.input<O> | Promise<z.input<O>>
      : never;

/** What a server implements for a table: one handler per procedure, in the table's shape. */
export type HandlersOf<TTable extends ProcedureTable, TContexts> = {
  [K in keyof TTable]: TTable[K] extends ProcedureDeclaration
    ? HandlerOf<TTable[K], TContexts>
    : TTable[K] extends ProcedureTable
      ? HandlersOf<TTable[K], TContexts>
      : never;
};

/**
 * What a subscription's resolver returns, as tRPC records it: an `async function*` that `yield*`s the
 * handler's `AsyncIterable<E>` (whose `next` takes `any`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the very type tRPC infers; `unknown` would change AppRouter
type StreamOf<TEvent> = AsyncIterable<TEvent, void, any>;

/** The tRPC procedure a declaration becomes: the very type `.input().output().query()` would give it. */
export type ProcedureOf<TDeclaration, TRoot extends AnyTRPCRootTypes> =
  TDeclaration extends SubscriptionDeclaration<string, infer I, infer E>
    ? TRPCSubscriptionProcedure<{
        input: SentInput<I>;
        output: StreamOf<E>;
        meta: TRoot["meta"];
        errorShape: TRoot["errorShape"];
      }>
    : TDeclaration extends CallDeclaration<infer K, string, infer I, infer O>
      ? [K] extends ["query"]
        ? TRPCQueryProcedure<{
            input: SentInput<I>;
            output: z.output<O>;
            meta: TRoot["meta"];
            errorShape: TRoot["errorShape"];
          }>
        : TRPCMutationProcedure<{
            input: SentInput<I>;
            output: z.output<O>;
            meta: TRoot["meta"];
            errorShape: TRoot["errorShape"];
          }>
      : never;

/** The tRPC router record a table becomes, for clients' inference (`AppRouter`). */
export type RouterRecordOf<TTable extends ProcedureTable, TRoot extends AnyTRPCRootTypes> = {
  [K in keyof TTable]: TTable[K] extends ProcedureDeclaration
    ? ProcedureOf<TTable[K], TRoot>
    : TTable[K] extends ProcedureTable
      ? RouterRecordOf<TTable[K], TRoot>
      : never;
};

/** Every access a table's procedures declare. */
export type AccessOf<TTable extends ProcedureTable> = {
  [K in keyof TTable]: TTable[K] extends ProcedureDeclaration
    ? TTable[K]["access"]
    : TTable[K] extends ProcedureTable
      ? AccessOf<TTable[K]>
      : never;
}[keyof TTable];

export function isProcedureDeclaration(
  value: ProcedureDeclaration | ProcedureTable,
): value is ProcedureDeclaration {
  return typeof value.kind === "string" && typeof value.access === "string";
}
