/**
 * The console's one way to the server: a tRPC client over the contracts' router (a type-only import, so no
 * server code is bundled). Queries and mutations go over HTTP (batched); subscriptions share one WebSocket.
 * Both are same-origin and carry the session cookie the server set at sign-in.
 */
import type { AppRouter } from "@drydock/contracts/router";
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  splitLink,
  TRPCClientError,
  wsLink,
} from "@trpc/client";

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/trpc`;

/** The WebSocket for subscriptions: opened on first use, reconnected with backoff, closed when unused. */
export const wsClient = createWSClient({
  url: wsUrl,
  lazy: { enabled: true, closeMs: 5_000 },
  retryDelayMs: (attempt) => Math.min(250 * 2 ** attempt, 5_000),
});

export const api = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === "subscription",
      true: wsLink({ client: wsClient }),
      false: httpBatchLink({ url: "/trpc" }),
    }),
  ],
});

export type Api = typeof api;

/** The server's answer when the session cookie is missing, expired or forged. */
export function isUnauthorized(error: unknown): boolean {
  return (
    error instanceof TRPCClientError &&
    (error.data as { code?: string } | undefined)?.code === "UNAUTHORIZED"
  );
}

/** The server's machine-readable reason (`appCode`), e.g. INVALID_INPUT, when it gave one. */
export function appCode(error: unknown): string | undefined {
  return error instanceof TRPCClientError
    ? ((error.data as { appCode?: string } | undefined)?.appCode ?? undefined)
    : undefined;
}

/** A sentence for the user: the server's message, or what went wrong on the way. */
export function errorMessage(error: unknown): string {
  if (error instanceof TRPCClientError) {
    return error.message === "Failed to fetch"
      ? "The Drydock server cannot be reached. Is `drydock up` still running?"
      : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
