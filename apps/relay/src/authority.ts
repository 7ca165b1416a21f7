import type { RelayAuthority } from "@drydock/contracts";
import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";

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

/** Asks the control plane over its tRPC API, with the relay token. `serverUrl` may be resolved late (in `drydock up`). */
export function serverAuthority(options: {
  serverUrl: string | (() => string);
  relayToken: string;
}): RelayAuthority {
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
