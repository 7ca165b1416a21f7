/**
 * The channel to the agent holding this session: the agent's `IdeRouter` (tRPC, from @drydock/contracts)
 * served on its control socket, a Unix socket only this user can open, every call carrying the session's
 * control token. Nothing here imports `vscode`: the extension wraps it, the tests drive it over a real socket.
 */
import { request } from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeader } from "node:http";

import type { IdeChanges, IdeContext, IdeRouter, IdeStatus } from "@drydock/contracts/ide";
import type { ResumeChoice } from "@drydock/contracts";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";

/** The host name is a placeholder: the socket decides where the request goes. */
const AGENT_URL = "http://drydock-agent/";
const DEFAULT_TIMEOUT_MS = 10_000;
/** Enough of an unexpected body to recognise it in the log, not enough to flood it. */
const SNIPPET_CHARS = 200;

export interface IdeControlClientOptions {
  socketPath: string;
  token: string;
  /** A call not answered within this is abandoned with a clear error (the UI must not wait forever). */
  timeoutMs?: number;
}

/** What the extension asks of the agent; each call throws an `AgentError` whose message can be shown as is. */
export interface IdeControlClient {
  context(): Promise<IdeContext>;
  status(): Promise<IdeStatus>;
  keepAlive(): Promise<IdeStatus>;
  /** `edited` runs the edited sources; `original` and `fail` are for a paused task only (the agent refuses them otherwise). */
  resume(choice: ResumeChoice): Promise<{ accepted: boolean; message: string }>;
  changes(): Promise<IdeChanges>;
}

/** Why a call failed, for callers that react differently (the status bar stops polling a gone agent, say). */
export type AgentErrorReason = "unauthorized" | "unreachable" | "timeout" | "protocol" | "agent";

export class AgentError extends Error {
  override readonly name = "AgentError";
  constructor(
    message: string,
    readonly reason: AgentErrorReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The client of the agent's IDE control socket. Nothing connects until the first call; every call opens its own connection. */
export function createIdeControlClient(options: IdeControlClientOptions): IdeControlClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const trpc = createTRPCClient<IdeRouter>({
    links: [
      httpLink({
        url: AGENT_URL,
        headers: { authorization: `Bearer ${options.token}` },
        fetch: unixSocketFetch(options.socketPath),
      }),
    ],
  });
  const call = async <T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await run(AbortSignal.timeout(timeoutMs));
    } catch (error) {
      throw toAgentError(error, { socketPath: options.socketPath, timeoutMs });
    }
  };
  return {
    context: () => call((signal) => trpc.context.query(undefined, { signal })),
    status: () => call((signal) => trpc.status.query(undefined, { signal })),
    keepAlive: () => call((signal) => trpc.keepAlive.mutate(undefined, { signal })),
    resume: (choice) => call((signal) => trpc.resume.mutate({ choice }, { signal })),
    changes: () => call((signal) => trpc.changes.query(undefined, { signal })),
  };
}

/** The part of a fetch `Response` that tRPC's httpLink reads. */
export interface SocketResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface SocketRequestInit {
  method?: string;
  headers?: unknown;
  body?: unknown;
  signal?: AbortSignal | null;
}

/** A response that is not JSON: not a tRPC server, or not this one (an older agent's hand-rolled socket, say). */
export class NotJsonResponseError extends Error {
  override readonly name = "NotJsonResponseError";
  constructor(
    readonly status: number,
    readonly snippet: string,
  ) {
    super(`HTTP ${status}, not JSON: ${snippet}`);
  }
}

/**
 * A fetch over a Unix socket, as much of one as tRPC's httpLink uses: GET and POST, string bodies, headers
 * as an object or entries, an abort signal, and a response with `ok`, `status`, `json()` and `text()`.
 * Node's own fetch cannot dial a socket path without undici's Agent, which would double the bundle.
 */
export function unixSocketFetch(socketPath: string) {
  return (input: unknown, init: SocketRequestInit = {}): Promise<SocketResponse> =>
    new Promise((resolve, reject) => {
      const url = new URL(
        typeof input === "string" || input instanceof URL
          ? input
          : String((input as { url?: unknown }).url),
      );
      const body = init.body ?? undefined;
      if (
        body !== undefined &&
        body !== null &&
        typeof body !== "string" &&
        !(body instanceof Uint8Array)
      ) {
        reject(new TypeError("unixSocketFetch sends string or byte bodies only"));
        return;
      }
      const req = request(
        {
          socketPath,
          method: init.method ?? "GET",
          path: `${url.pathname}${url.search}`,
          headers: { host: url.host, ...headerRecord(init.headers) },
          signal: init.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () =>
            resolve(
              socketResponse(
                res.statusCode ?? 0,
                res.headers,
                Buffer.concat(chunks).toString("utf8"),
              ),
            ),
          );
        },
      );
      req.on("error", reject);
      req.end(body ?? undefined);
    });
}

function socketResponse(
  status: number,
  headers: IncomingHttpHeaders,
  text: string,
): SocketResponse {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: {
      get: (name) => {
        const value = headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
    },
    text: () => Promise.resolve(text),
    // A body that is not JSON rejects (as fetch's json() does), it never throws at the call.
    json: () => {
      try {
        return Promise.resolve(JSON.parse(text) as unknown);
      } catch {
        return Promise.reject(
          new NotJsonResponseError(status, text.trim().slice(0, SNIPPET_CHARS)),
        );
      }
    },
  };
}

function headerRecord(headers: unknown): Record<string, string> {
  if (!headers) return {};
  const entries: Iterable<unknown> =
    typeof (headers as Iterable<unknown>)[Symbol.iterator] === "function"
      ? (headers as Iterable<unknown>)
      : Object.entries(headers as Record<string, unknown>);
  const record: Record<string, string> = {};
  for (const entry of entries) {
    // An HTTP header's value: text, a number, or a list (Node's form of a repeated header).
    const [name, value] = entry as [string, OutgoingHttpHeader | undefined];
    if (value === undefined) continue;
    record[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return record;
}

/** System error codes meaning nobody is listening at the socket path (any more). */
const UNREACHABLE_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "EACCES",
  "ENOTSOCK",
  "ENOTDIR",
]);

/** Turns whatever a call threw into an `AgentError` with a message a person can act on. */
export function toAgentError(
  error: unknown,
  where: { socketPath: string; timeoutMs: number },
): AgentError {
  if (error instanceof AgentError) return error;
  if (error instanceof TRPCClientError) {
    const code = (error.data as { code?: unknown } | undefined)?.code;
    if (code === "UNAUTHORIZED") {
      return new AgentError(
        "The Drydock agent refused this window's control token (DRYDOCK_CONTROL_TOKEN): the window does not belong to the agent's current session. Reopen the IDE from the console.",
        "unauthorized",
        { cause: error },
      );
    }
    if (typeof code === "string")
      return new AgentError(`The Drydock agent failed (${code}): ${error.message}`, "agent", {
        cause: error,
      });
  }
  const causes = causeChain(error);
  if (causes.some((cause) => cause.name === "TimeoutError" || cause.name === "AbortError")) {
    return new AgentError(
      `The Drydock agent did not answer within ${where.timeoutMs >= 1000 ? `${Math.round(where.timeoutMs / 1000)} s` : `${where.timeoutMs} ms`} (socket ${where.socketPath}).`,
      "timeout",
      { cause: error },
    );
  }
  const systemCode = causes
    .map((cause) => (cause as { code?: unknown }).code)
    .find((code): code is string => typeof code === "string" && UNREACHABLE_CODES.has(code));
  if (systemCode) {
    return new AgentError(
      `The Drydock agent is not answering on ${where.socketPath} (${systemCode}): the session has probably ended.`,
      "unreachable",
      { cause: error },
    );
  }
  const notJson = causes.find(
    (cause): cause is NotJsonResponseError => cause instanceof NotJsonResponseError,
  );
  if (notJson) {
    return new AgentError(
      `The Drydock agent answered HTTP ${notJson.status} without tRPC (${notJson.snippet || "empty body"}): the agent and this extension do not speak the same contract.`,
      "protocol",
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AgentError(`The Drydock agent's answer could not be used: ${message}`, "protocol", {
    cause: error,
  });
}

function causeChain(error: unknown): Error[] {
  const chain: Error[] = [];
  for (
    let current: unknown = error;
    current instanceof Error && !chain.includes(current);
    current = current.cause
  )
    chain.push(current);
  return chain;
}
