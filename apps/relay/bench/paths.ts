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
 * The relay path for a session (the bench's by default): Host `<session>.localhost:<port>`, a signed cookie,
 * same-origin Origin.
 * `host` is the address the load generator connects to (the relay's own by default).
 */
export function relayTarget(relay: RelayReady, host = "127.0.0.1", session = SESSION): Target {
  const origin = new URL(relay.ideOrigin);
  const hostHeader = `${session}.${origin.host}`;
  const cookie = `${SESSION_COOKIE}=${signedCookie(session)}`;
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

/** The peer, started: a path per subdomain whose tunnel came up, and why the others did not. */
export interface StartedPeer {
  targets: Target[];
  children: Child[];
  failures: { subdomain: string; reason: string }[];
}

/**
 * The peer's server and client, each in a child, with one tunnel per subdomain (the bench's session by
 * default) to the upstream, `batch` dialling at once: resolves once the client holds all its connections to the
 * server for every tunnel that came up. With one subdomain, a tunnel that does not come up is an error.
 */
export async function startPeer(
  peerDir: string,
  upstreamPort: number,
  placement: PeerPlacement,
  subdomains: string[] = [SESSION],
  batch = 1,
): Promise<StartedPeer> {
  const { child: server, ready } = await Child.start<UpstreamReady>(
    "peer server",
    "peer-server.ts",
    [peerDir],
    placement.server,
  );
  const children = [server];
  const failures: StartedPeer["failures"] = [];
  const up: string[] = [];
  try {
    const { child: client } = await Child.start<null>(
      "peer client",
      "peer-client.ts",
      [peerDir],
      placement.client,
    );
    children.push(client);
    const open = async (subdomain: string) => {
      await client.call<string>("connect", {
        serverHost: placement.serverHost,
        serverPort: ready.port,
        upstreamHost: placement.upstreamHost,
        upstreamPort,
        subdomain,
      } satisfies PeerConnectArgs);
      const deadline = performance.now() + 30_000;
      while ((await server.call<number>("sockets", subdomain)) < PEER_SOCKETS) {
        if (performance.now() > deadline)
          throw new Error(`its client did not open its ${PEER_SOCKETS} connections within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    for (let i = 0; i < subdomains.length; i += batch)
      await Promise.all(
        subdomains.slice(i, i + batch).map((subdomain) =>
          open(subdomain).then(
            () => up.push(subdomain),
            (error: unknown) =>
              failures.push({
                subdomain,
                reason: error instanceof Error ? error.message : String(error),
              }),
          ),
        ),
      );
    if (subdomains.length === 1 && failures.length > 0)
      throw new Error(`the peer's tunnel did not come up: ${failures[0]!.reason}`);
  } catch (error) {
    await Promise.all(children.map((c) => c.stop()));
    throw error;
  }
  const targets = up.map((subdomain): Target => {
    const host = `${subdomain}.localhost:${ready.port}`;
    return {
      name: "peer",
      host: placement.serverHost,
      port: ready.port,
      headers: { host },
      wsHeaders: { host },
    };
  });
  return { targets, children, failures };
}
