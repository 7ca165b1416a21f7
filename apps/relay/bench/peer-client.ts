/**
 * Child process: localtunnel's client (see `peer.ts`), from the folder given as its argument. Answers `connect`
 * (opens a tunnel for a subdomain to the upstream; resolves with its URL) and `close`.
 */
import { createRequire } from "node:module";
import { join } from "node:path";

import { serveParent } from "./ipc.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: peer-client.ts <folder the peer is installed in>");

interface PeerTunnel {
  url: string;
  close(): void;
  on(event: "error", listener: (error: Error) => void): void;
}
const localtunnel = createRequire(join(dir, "package.json"))("localtunnel") as (options: {
  port: number;
  host: string;
  subdomain: string;
  local_host: string;
}) => Promise<PeerTunnel>;

export interface PeerConnectArgs {
  serverHost: string;
  serverPort: number;
  upstreamHost: string;
  upstreamPort: number;
  subdomain: string;
}

const tunnels: PeerTunnel[] = [];

serveParent(null, {
  connect: async (arg) => {
    const { serverHost, serverPort, upstreamHost, upstreamPort, subdomain } =
      arg as PeerConnectArgs;
    const tunnel = await localtunnel({
      port: upstreamPort,
      host: `http://${serverHost}:${serverPort}`,
      subdomain,
      local_host: upstreamHost,
    });
    tunnel.on("error", (error) =>
      process.stderr.write(`peer client of ${subdomain}: ${error.message}\n`),
    );
    tunnels.push(tunnel);
    return tunnel.url;
  },
  close: () => {
    for (const tunnel of tunnels.splice(0)) tunnel.close();
  },
});
