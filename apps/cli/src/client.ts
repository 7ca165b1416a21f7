import type { AppRouter } from "@drydock/contracts/router";
import {
  createTRPCClient,
  createWSClient,
  httpLink,
  isTRPCClientError,
  splitLink,
  wsLink,
} from "@trpc/client";
import type { TRPCClientError } from "@trpc/client";
import WebSocket from "ws";

import { CliError } from "./errors.js";

export type ApiClient = ReturnType<typeof createTRPCClient<AppRouter>>;

/** Where to call, and with which credential; none for the few public procedures (`drydock login`). */
export interface ApiTarget {
  endpoint: string;
  token?: string;
}

/** A typed client of the control plane: queries over HTTP, subscriptions over one lazily opened WebSocket. */
export function createApiClient(conn: ApiTarget): { api: ApiClient; close: () => void } {
  const ws = createWSClient({
    url: `${conn.endpoint.replace(/^http/, "ws")}/trpc`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: conn.token === undefined ? {} : { token: conn.token },
    lazy: { enabled: true, closeMs: 0 },
    retryDelayMs: (attempt) => Math.min(200 * 2 ** attempt, 2_000),
  });
  const client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: wsLink({ client: ws }),
        false: httpLink({
          url: `${conn.endpoint}/trpc`,
          headers: conn.token === undefined ? {} : { authorization: `Bearer ${conn.token}` },
        }),
      }),
    ],
  });
  // Kept apart from the client: every property of tRPC's proxy is a procedure path.
  return { api: client, close: () => void ws.close() };
}

function unreachable(error: TRPCClientError<AppRouter>): boolean {
  const cause = error.cause;
  // fetch's "fetch failed" wraps the socket error (ECONNREFUSED, …) one level further down.
  const socketError = cause?.cause;
  const socketMessage =
    socketError instanceof Error
      ? socketError.message
      : typeof socketError === "string"
        ? socketError
        : "";
  return (
    !error.data &&
    /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up/i.test(
      `${error.message} ${cause?.message ?? ""} ${socketMessage}`,
    )
  );
}

/** Turns a failed API call into a one-line CLI error naming the problem. */
export function explainApiError(error: unknown, endpoint: string): Error {
  if (isTRPCClientError<AppRouter>(error)) {
    if (unreachable(error))
      return new CliError(
        `cannot reach the Drydock server at ${endpoint} (is \`drydock up\` running?)`,
        1,
      );
    const data = error.data as { appCode?: string; code?: string } | undefined;
    const code = data?.appCode ?? data?.code;
    return new CliError(`${error.message}${code ? ` [${code}]` : ""}`, 1);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Whether a failed call was refused with the tRPC code `code` (e.g. "PRECONDITION_FAILED"). */
export function isApiError(error: unknown, code: string): boolean {
  return isTRPCClientError<AppRouter>(error) && (error.data as { code?: string })?.code === code;
}

/** Runs `fn` with a client of `target`, closes it, and turns API failures into one-line CLI errors. */
export async function withClient<T>(target: ApiTarget, fn: (api: ApiClient) => Promise<T>) {
  const { api, close } = createApiClient(target);
  try {
    return await fn(api);
  } catch (error) {
    throw explainApiError(error, target.endpoint);
  } finally {
    close();
  }
}
