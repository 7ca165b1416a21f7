/**
 * Child process: the agent end. Opens one tunnel per session (`openTunnel`, as the real agent does) from
 * this process to the relay, each forwarding to the upstream child. Answers `connect` (resolves once every
 * tunnel is up) and `close` (closes them all).
 */
import { openTunnel, type TunnelClient } from "@drydock/tunnel";

import { serveParent } from "./ipc.js";
import { BENCH_AGENT_TOKEN, type AgentsConnectArgs } from "./shared.js";

const clients: TunnelClient[] = [];

async function connect(args: AgentsConnectArgs): Promise<number> {
  const ideHost = new URL(args.ideOrigin).host;
  for (let i = 0; i < args.sessions.length; i += args.batch) {
    const batch = args.sessions.slice(i, i + args.batch).map((sessionId) => {
      const client = openTunnel({
        relayUrl: args.relayUrl,
        host: `${sessionId}.${ideHost}`,
        token: BENCH_AGENT_TOKEN,
        target: { host: "127.0.0.1", port: args.upstreamPort },
      });
      client.on("disconnected", (reason) =>
        process.stderr.write(`agent end of ${sessionId}: tunnel lost: ${reason}\n`),
      );
      clients.push(client);
      return client.whenConnected();
    });
    await Promise.all(batch);
  }
  return clients.length;
}

async function close(): Promise<void> {
  await Promise.all(clients.splice(0).map((client) => client.close()));
}

serveParent(null, {
  connect: (arg) => connect(arg as AgentsConnectArgs),
  close: () => close(),
});
