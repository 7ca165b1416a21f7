#!/usr/bin/env node
/** The relay on its own, for scale-out: `node dist/main.js` with DRYDOCK_SERVER_URL and DRYDOCK_RELAY_TOKEN set. */
import { buildRelay } from "./app.js";
import { serverAuthority } from "./authority.js";
import { readRelayConfig } from "./env.js";

let config;
try {
  config = readRelayConfig();
} catch (error) {
  process.stderr.write(
    `drydock-relay: bad configuration: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(2);
}
const relay = buildRelay(config, {
  authority: serverAuthority({ serverUrl: config.serverUrl, relayToken: config.relayToken }),
});
const { url, ideOrigin } = await relay.listen();
relay.app.log.info({ url, ideOrigin }, "relay listening");

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  relay.app.log.info({ signal }, "relay stopping");
  relay.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
