/**
 * The paths the benchmarks measure besides direct: the relay (a signed cookie for the bench's session) and the
 * peer (localtunnel's server and client, each in a child, with one tunnel for the session).
 */
import { CookieSigner, SESSION_COOKIE } from "../src/cookies.js";
import { Child, type ChildOptions } from "./ipc.js";
import type { Target } from "./measure.js";
import { PEER_SOCKETS } from "./peer.js";
import type { PeerConnectArgs } from "./peer-client.js";
import { BENCH_COOKIE_SECRET, type RelayReady, type UpstreamReady } from "./shared.js";

/** The benchmarks' one session. */
export const SESSION = "bench";

/**
 * The relay path for the bench's session: Host `bench.localhost:<port>`, a signed cookie, same-origin Origin.
 * `host` is the address the load generator connects to (the relay's own by default).
 */
export function relayTarget(relay: RelayReady, host = "127.0.0.1"): Target {
  const origin = new URL(relay.ideOrigin);
  const hostHeader = `${SESSION}.${origin.host}`;
  const cookie = `${SESSION_COOKIE}=${signedCookie(SESSION)}`;
  return {
    name: "relay",
    host,
    port: Number(new URL(relay.url).port),
    headers: { host: hostHeader, cookie },
    wsHeaders: { host: hostHeader, cookie, origin: `${origin.protocol}//${hostHeader}` },
  };
}

/** The value of the relay's cookie for `sessionId`, signed with the bench relay's secret, good for an hour. */
export function signedCookie(sessionId: string): string {
  const grant = { sessionId, userId: "bench", expires: Math.floor(Date.now() / 1000) + 3600 };
  return new CookieSigner(BENCH_COOKIE_SECRET).sign(grant);
}

/** Where the peer's processes run: the server's and the client's child options, and the server's address. */
export interface PeerPlacement {
  server: ChildOptions;
  client: ChildOptions;
  /** The address the server listens on, and the client and load generator reach it at. */
  serverHost: string;
  /** The address the client reaches the upstream at. */
  upstreamHost: string;
}

/**
 * The peer's server and client, each in a child, with one tunnel for the bench's session to the upstream:
 * resolves once the client holds all its connections to the server.
 */
export async function startPeer(
  peerDir: string,
  upstreamPort: number,
  placement: PeerPlacement,
): Promise<{ target: Target; children: Child[] }> {
  const { child: server, ready } = await Child.start<UpstreamReady>(
    "peer server",
    "peer-server.ts",
    [peerDir],
    placement.server,
  );
  const children = [server];
  try {
    const { child: client } = await Child.start<null>(
      "peer client",
      "peer-client.ts",
      [peerDir],
      placement.client,
    );
    children.push(client);
    await client.call<string>("connect", {
      serverHost: placement.serverHost,
      serverPort: ready.port,
      upstreamHost: placement.upstreamHost,
      upstreamPort,
      subdomain: SESSION,
    } satisfies PeerConnectArgs);
    const deadline = performance.now() + 10_000;
    while ((await server.call<number>("sockets", SESSION)) < PEER_SOCKETS) {
      if (performance.now() > deadline)
        throw new Error(
          `the peer's client did not open its ${PEER_SOCKETS} connections within 10 s`,
        );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    await Promise.all(children.map((c) => c.stop()));
    throw error;
  }
  const host = `${SESSION}.localhost:${ready.port}`;
  return {
    target: {
      name: "peer",
      host: placement.serverHost,
      port: ready.port,
      headers: { host },
      wsHeaders: { host },
    },
    children,
  };
}
