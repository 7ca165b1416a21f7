import type { RelayAccessEvent, RelayAuthority } from "@drydock/contracts";
import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, createWSClient, httpLink, TRPCClientError, wsLink } from "@trpc/client";
import WebSocket from "ws";

import { streamOf, type EventSink } from "./event-stream.js";

/** The control plane's answer as the relay acts on it: a status for the browser or agent, and why. */
export class Refusal extends Error {
  override name = "Refusal";
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 408 | 431 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** How the relay reaches the control plane. */
export interface ServerAuthorityOptions {
  /** The control plane's URL; a function when it is only known later (in `drydock up`). */
  serverUrl: string | (() => string);
  relayToken: string;
}

/**
 * Asks the control plane over its tRPC API, with the relay token: calls over HTTP, the access events over a
 * WebSocket of their own (one per subscription, see `accessEventsOver`).
 */
export function serverAuthority(options: ServerAuthorityOptions): RelayAuthority {
  const url = () =>
    `${typeof options.serverUrl === "function" ? options.serverUrl() : options.serverUrl}/trpc`;
  let client: ReturnType<typeof createTRPCClient<AppRouter>> | undefined;
  let clientUrl = "";
  const trpc = () => {
    if (!client || clientUrl !== url()) {
      clientUrl = url();
      client = createTRPCClient<AppRouter>({
        links: [
          httpLink({ url: clientUrl, headers: { authorization: `Bearer ${options.relayToken}` } }),
        ],
      });
    }
    return client;
  };
  return {
    authorizeTunnel: (input) => trpc().relay.authorizeTunnel.mutate(input),
    redeemTicket: (input) => trpc().relay.redeemTicket.mutate(input),
    sessionReady: (input) => trpc().relay.sessionReady.mutate(input),
    reportConnections: (input) => trpc().relay.reportConnections.mutate(input),
    accessEvents: (signal) =>
      streamOf<RelayAccessEvent>(signal, (sink) => accessEventsOver(url, options.relayToken, sink)),
  };
}

/**
 * Subscribes to the access events on a WebSocket of its own, with the relay token as its connection
 * parameter; returns what ends it. The subscription does not outlive its socket: when the socket drops (or
 * cannot open, or stops answering PINGs) the stream fails, and the relay subscribes again after its own
 * backoff, on a new socket, taking the next snapshot as the whole truth.
 */
function accessEventsOver(
  url: () => string,
  relayToken: string,
  sink: EventSink<RelayAccessEvent>,
): () => void {
  const socket = createWSClient({
    url: () => url().replace(/^http/, "ws"),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: { token: relayToken },
    // A half-open connection is noticed within 20 s, and the relay subscribes again.
    keepAlive: { enabled: true, intervalMs: 15_000, pongTimeoutMs: 5_000 },
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: socket })] });
  const subscription = client.relay.accessEvents.subscribe(undefined, {
    onData: (event) => sink.push(event),
    onError: (error) => sink.fail(error),
    onComplete: () => sink.end(),
    onConnectionStateChange: (state) => {
      // The WebSocket client would re-open the socket itself; the relay's backoff does it instead.
      if (state.state === "connecting" && state.error)
        sink.fail(new Error(`the access event stream broke: ${state.error.message}`));
    },
  });
  return () => {
    subscription.unsubscribe();
    void socket.close();
  };
}

/** Turns whatever an authority threw into the relay's refusal: the control plane's verdict, or 503 if it could not be asked. */
export function asRefusal(error: unknown): Refusal {
  if (error instanceof Refusal) return error;
  if (error instanceof TRPCClientError) {
    const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
    if (status === 401 || status === 403 || status === 404)
      return new Refusal(status, error.message);
    if (status === 400) return new Refusal(403, error.message);
    return new Refusal(503, `the control plane could not decide: ${error.message}`);
  }
  const kind = (error as { kind?: string } | undefined)?.kind;
  const message = error instanceof Error ? error.message : String(error);
  if (kind === "UNAUTHORIZED") return new Refusal(401, message);
  if (
    kind === "FORBIDDEN" ||
    kind === "CONFLICT" ||
    kind === "PRECONDITION_FAILED" ||
    kind === "BAD_REQUEST"
  )
    return new Refusal(403, message);
  if (kind === "NOT_FOUND") return new Refusal(404, message);
  return new Refusal(503, `the control plane could not decide: ${message}`);
}
