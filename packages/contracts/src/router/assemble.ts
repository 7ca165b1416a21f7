/**
 * Turns a procedure table and its handlers into a tRPC router: each declaration gets its access's procedure
 * builder (where that access is enforced), its schemas, and a resolver that calls its handler.
 */
import type { AnyTRPCRootTypes, TRPCBuiltRouter, TRPCRouterBuilder } from "@trpc/server";

import { isProcedureDeclaration } from "./procedure.js";
import type {
  AccessOf,
  ProcedureDeclaration,
  ProcedureTable,
  RouterRecordOf,
} from "./procedure.js";

type Resolver = (opts: {
  input: unknown;
  ctx: unknown;
  signal: AbortSignal | undefined;
}) => unknown;

/** The part of a tRPC procedure builder (`t.procedure.use(…)`) that assembling uses. */
interface ProcedureBuilderLike {
  input(schema: unknown): ProcedureBuilderLike;
  output(schema: unknown): ProcedureBuilderLike;
  query(resolver: Resolver): unknown;
  mutation(resolver: Resolver): unknown;
  subscription(resolver: Resolver): unknown;
}

type Handler = (input: unknown, ctx: unknown, signal?: AbortSignal) => unknown;
type HandlerGroup = Record<string, unknown>;

function procedureFrom(
  declaration: ProcedureDeclaration,
  factory: (input: unknown) => ProcedureBuilderLike,
  group: HandlerGroup,
  name: string,
) {
  // Looked up at each call, as a method of its group, like `h.executions.create(input, ctx)`.
  const handler = (...args: Parameters<Handler>) => (group[name] as Handler).apply(group, args);
  // The access's builder with the input applied, so a guard that needs the parsed input runs after it.
  const withInput = factory(declaration.input);
  switch (declaration.kind) {
    case "query":
      return withInput.output(declaration.output).query(({ input, ctx }) => handler(input, ctx));
    case "mutation":
      return withInput.output(declaration.output).mutation(({ input, ctx }) => handler(input, ctx));
    case "subscription":
      return withInput.subscription(async function* ({ input, ctx, signal }) {
        yield* handler(
          input,
          ctx,
          signal ?? new AbortController().signal,
        ) as AsyncIterable<unknown>;
      });
  }
}

function routerRecordFrom(
  router: (record: Record<string, unknown>) => unknown,
  builderFor: Record<string, unknown>,
  table: ProcedureTable,
  handlers: HandlerGroup,
): unknown {
  const record = Object.entries(table).map(([name, entry]): [string, unknown] => {
    if (!isProcedureDeclaration(entry))
      return [name, routerRecordFrom(router, builderFor, entry, handlers[name] as HandlerGroup)];
    const factory = builderFor[entry.access] as
      ((input: unknown) => ProcedureBuilderLike) | undefined;
    if (!factory)
      throw new Error(`no procedure builder for the access "${entry.access}" of ${name}`);
    return [name, procedureFrom(entry, factory, handlers, name)];
  });
  return router(Object.fromEntries(record));
}

/**
 * `createRouter(t.router, { signedIn: (input) => builder, … }, table, handlers)`: the router serving `table` with
 * `handlers`, typed exactly as if each procedure had been written out with `.input().output().query()`.
 */
export function createRouter<TRoot extends AnyTRPCRootTypes, TTable extends ProcedureTable>(
  router: TRPCRouterBuilder<TRoot>,
  builderFor: Record<AccessOf<TTable>, unknown>,
  table: TTable,
  handlers: object,
): TRPCBuiltRouter<TRoot, RouterRecordOf<TTable, TRoot>> {
  const build = router as unknown as (record: Record<string, unknown>) => unknown;
  return routerRecordFrom(build, builderFor, table, handlers as HandlerGroup) as TRPCBuiltRouter<
    TRoot,
    RouterRecordOf<TTable, TRoot>
  >;
}
