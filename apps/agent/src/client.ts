/**
 * The agent's line to the control plane: a tRPC client for the agent procedures, and `withRetry`, which
 * rides out a server restart (unreachable server) but never retries an error the server answered.
 */
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import type { TRPCClient } from "@trpc/client";
import type { Logger } from "pino";

export type AgentClient = TRPCClient<AppRouter>;

/** Statuses a proxy or load balancer answers while the server behind it is down or restarting. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);
/** Socket-level failures that mean "nobody answered" (Node's and undici's codes). */
const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/** The server could not be reached: a gateway status, or no answer at all. */
export class ServerUnavailableError extends Error {
  override name = "ServerUnavailableError";
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`${url} answered ${status}: the server is unavailable`);
  }
}

/** Fetch that turns gateway statuses into ServerUnavailableError, so every caller classifies them alike. */
export async function fetchOrUnavailable(
  input: string | URL,
  init?: RequestInit,
): Promise<Response> {
  const response = await fetch(input, init);
  if (GATEWAY_STATUSES.has(response.status)) {
    await response.body?.cancel();
    throw new ServerUnavailableError(response.status, String(input));
  }
  return response;
}

export function createAgentClient(options: { endpoint: string; token: string }): AgentClient {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${options.endpoint.replace(/\/+$/, "")}/trpc`,
        headers: { authorization: `Bearer ${options.token}` },
        fetch: (url: string | URL, init) =>
          callServer(url, init ?? {}) as unknown as Promise<Response>,
      }),
    ],
  });
}

/** The process's connections to the server, kept alive between calls (a warm agent's attempts share them). */
const keptAlive = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};

/** What the tRPC client reads of an answer. */
interface CallAnswer {
  status: number;
  ok: boolean;
  headers: IncomingHttpHeaders;
  json(): Promise<unknown>;
}

/**
 * The tRPC client's fetch: one request on node:http over a kept-alive connection. Its calls carry small
 * JSON both ways, and the global fetch (undici, with web streams and abort plumbing) spent about 2 ms of
 * CPU on each — a third of what a warm fan-out element costs the agent. Gateway statuses throw
 * ServerUnavailableError, as fetchOrUnavailable does.
 */
function callServer(
  url: string | URL,
  init: { method?: string; headers?: unknown; body?: unknown; signal?: AbortSignal | null },
): Promise<CallAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === "https:";
    const request = (secure ? httpsRequest : httpRequest)(
      target,
      {
        method: init.method ?? "GET",
        headers: init.headers as Record<string, string>,
        agent: secure ? keptAlive.https : keptAlive.http,
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          if (GATEWAY_STATUSES.has(status)) {
            reject(new ServerUnavailableError(status, String(url)));
            return;
          }
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status,
            ok: status >= 200 && status < 300,
            headers: response.headers,
            json: () => Promise.resolve().then(() => JSON.parse(text) as unknown),
          });
        });
      },
    );
    request.on("error", reject);
    request.end(typeof init.body === "string" ? init.body : undefined);
  });
}

/** True when `error` (or its cause chain) says the server was unreachable, as opposed to answering with an error. */
export function isServerUnreachable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof ServerUnavailableError) return true;
    if (current instanceof TypeError && current.message === "fetch failed") return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}

/** The HTTP status of an error the server answered through tRPC, if any. */
export function answeredStatus(error: unknown): number | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const status = (error.data as { httpStatus?: unknown } | undefined)?.httpStatus;
  return typeof status === "number" ? status : undefined;
}

export interface RetryOptions {
  /** Give up once the server has been unreachable this long (DRYDOCK_RECONNECT_SECONDS). */
  reconnectSeconds?: number;
  /** Longest pause between two tries. */
  maxDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, retrying only while the server is unreachable, with exponential backoff
 * and jitter (capped at 2 s) for up to `reconnectSeconds`.
 * @example const assignment = await withRetry(() => client.agent.assignment.query());
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const reconnectMs = (options.reconnectSeconds ?? 600) * 1_000;
  const maxDelayMs = options.maxDelayMs ?? 2_000;
  const deadline = Date.now() + reconnectMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isServerUnreachable(error) || options.signal?.aborted) throw error;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `the server stayed unreachable for ${Math.round(reconnectMs / 1_000)} s: ${describeError(error)}`,
          {
            cause: error,
          },
        );
      }
      const ceiling = Math.min(maxDelayMs, 100 * 2 ** (attempt - 1));
      const delayMs = Math.min(remaining, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A thrown value that is not an Error: a primitive as itself, an object as JSON (not "[object Object]"). */
function describeNonError(value: unknown): string {
  if (typeof value !== "object" || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** A one-line description of an error, following its causes ("fetch failed: connect ECONNREFUSED …"). */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    const message = current instanceof Error ? current.message : describeNonError(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

/** A call to the server, named for the logs, retried while the server is unreachable (see withRetry). */
export type ServerCall = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** The ServerCall of one attempt: it rides out an unreachable server for `reconnectSeconds`, saying so at each retry. */
export function createServerCall(reconnectSeconds: number, logger: Logger): ServerCall {
  return (what, fn) =>
    withRetry(fn, {
      reconnectSeconds,
      onRetry: (error, attempt, delayMs) =>
        logger.warn(
          { attempt, delayMs, error: describeError(error) },
          `${what}: the server is unreachable, retrying`,
        ),
    });
}
