/**
 * The API's services on a test database, wired exactly as the server wires them (`createServices`), with the
 * executor a test gives (usually the scripted one). The scheduler is not started.
 */
import { join } from "node:path";

import { LocalBlobStore } from "../blobs/blob-store.js";
import { BlobUrlSigner } from "../blobs/signing.js";
import type { ServiceDeps } from "../control-plane.js";
import { createServices } from "../control-plane.js";
import type { Executor } from "../executor/executor.js";
import { createLogger } from "../logger.js";
import type { testDatabase } from "./postgres.js";

export async function testServices(
  pg: Awaited<ReturnType<typeof testDatabase>>,
  executor: Executor,
  config: Partial<ServiceDeps["config"]> = {},
) {
  const blobs = new LocalBlobStore(join(pg.dir, "blobs"));
  const signer = new BlobUrlSigner("test-secret", () => "http://127.0.0.1:1");
  const services = await createServices({
    config: {
      maxParallel: 4,
      heartbeatTimeoutSeconds: 30,
      startTimeoutSeconds: 300,
      lostAttemptRetries: 0,
      relayUrl: "http://127.0.0.1:8081",
      ideOrigin: "http://localhost:8081",
      ...config,
    },
    dataDir: pg.dir,
    db: pg.db,
    executor,
    publicUrl: () => "http://127.0.0.1:1",
    log: createLogger("silent"),
    blobs,
    signer,
  });
  return { blobs, signer, ...services };
}
