import { createHash } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import Docker from "dockerode";

import { Authenticator } from "./auth.js";
import { buildApp } from "./app.js";
import { ConsoleSessions, consoleDist } from "./console.js";
import { LocalBlobStore } from "./blobs/blob-store.js";
import { BlobUrlSigner } from "./blobs/signing.js";
import { cannotUse, lockDataDir } from "./data-dir.js";
import type { DataDirLock } from "./data-dir.js";
import { createDatabase } from "./db/database.js";
import { migrateToLatest } from "./db/migrations.js";
import { startEmbeddedPostgres } from "./db/postgres.js";
import type { RunningPostgres } from "./db/postgres.js";
import { ServerConfigSchema } from "./env.js";
import type { ServerConfigInput } from "./env.js";
import { DockerExecutor } from "./executor/docker.js";
import { LocalProcessExecutor } from "./executor/local-process.js";
import { createHandlers } from "./handlers.js";
import { createLogger } from "./logger.js";
import type { Logger } from "./logger.js";
import { assertPortFree } from "./ports.js";
import { AttemptAgentService } from "./services/attempt-agent.js";
import { EventBus } from "./services/event-bus.js";
import { ExecutionService } from "./services/executions.js";
import { Scheduler } from "./services/scheduler.js";
import { SessionService } from "./services/sessions.js";
import { WorkflowService } from "./services/workflows.js";
import { loadSecrets } from "./secrets.js";

export interface RunningServer {
  /** Where the API listens, e.g. http://127.0.0.1:8484. */
  url: string;
  /** The console URL, signing in with the local token. */
  consoleUrl: string;
  token: string;
  /** The token relays present to this server (configured, or generated and kept in the data directory). */
  relayToken: string;
  dataDir: string;
  close(): Promise<void>;
}

/** The agent's built entry, which the local executor runs for every attempt. */
export function agentEntry(): string {
  return join(dirname(fileURLToPath(import.meta.resolve("@drydock/agent"))), "main.js");
}

/** The console's build, where the workspace (or an install) put @drydock/console; undefined when it is not there. */
function builtConsole(): string | undefined {
  try {
    return dirname(fileURLToPath(import.meta.resolve("@drydock/console/dist")));
  } catch {
    return undefined;
  }
}

/**
 * Starts the whole control plane: PostgreSQL (embedded unless a URL is given), migrations, the HTTP app,
 * and the scheduler, which adopts agents that outlived a previous server before anything new runs.
 * `options` is validated here too, so a caller may build it by hand (`readServerConfig` is the usual way).
 * The data directory is locked for the server's lifetime (`lockDataDir`), unless the caller already holds
 * that lock (`dataDirLock`, which it then releases itself). Sets the process's umask to 077: nothing the
 * server or its agents write (blobs, logs, attempts, caches) is for other users.
 */
export async function startServer(
  options: ServerConfigInput,
  logger?: Logger,
  dataDirLock?: DataDirLock,
): Promise<RunningServer> {
  const config = ServerConfigSchema.parse(options);
  const log = logger ?? createLogger(config.logLevel);
  const dataDir = resolve(config.dataDir);
  process.umask(0o077);
  // Nothing in the data directory is touched before the port is known free and the directory is ours.
  if (!dataDirLock) await assertPortFree(config.host, config.port);
  const lock = dataDirLock ?? (await lockDataDir(dataDir));
  const cleanups: (() => Promise<void>)[] = dataDirLock ? [] : [() => lock.release()];
  const cleanup = async () => {
    for (const fn of cleanups.reverse())
      await fn().catch((err: unknown) => log.error({ err }, "clean-up step failed"));
    cleanups.length = 0;
  };

  try {
    // Older versions left it 0755. A directory another user owns is theirs to keep private.
    await chmod(dataDir, 0o700).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EPERM") throw cannotUse(dataDir, error);
      log.warn(
        { dataDir },
        "the data directory belongs to another user: its mode is left as it is",
      );
    });
    const secrets = await loadSecrets(dataDir);
    const token = config.token ?? secrets.token;
    const relayToken = config.relayToken ?? secrets.relayToken;
    let postgres: RunningPostgres | undefined;
    if (!config.databaseUrl) {
      postgres = await startEmbeddedPostgres(dataDir, log, secrets);
      cleanups.push(() => (postgres as RunningPostgres).stop());
    }
    const db = createDatabase(config.databaseUrl ?? (postgres as RunningPostgres).url, log);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db as never);

    let baseUrl = config.publicUrl ?? "";
    const blobs = new LocalBlobStore(join(dataDir, "blobs"));
    const signer = new BlobUrlSigner(secrets.signingSecret, () => baseUrl);
    const bus = new EventBus();
    const attemptsDir = join(dataDir, "attempts");
    const executorLog = log.child({ component: "executor" });
    const executor =
      config.executor === "docker"
        ? new DockerExecutor({
            docker: new Docker({ socketPath: config.docker.socket }),
            taskImage: config.docker.taskImage,
            network: config.docker.network,
            endpoint: () => config.docker.agentEndpoint ?? baseUrl,
            instance: createHash("sha256")
              .update(`drydock instance\n${secrets.signingSecret}`)
              .digest("hex")
              .slice(0, 16),
            attemptsDir,
            // The image has its own PATH, HOME and cache; agents get only Drydock's tuning variables.
            env: Object.fromEntries(
              Object.entries(config.agentEnv).filter(([k]) => k.startsWith("DRYDOCK_")),
            ),
            log: executorLog,
          })
        : new LocalProcessExecutor({
            agentEntry: agentEntry(),
            attemptsDir,
            cacheDir: join(dataDir, "cache"),
            endpoint: () => baseUrl,
            log: executorLog,
            env: config.agentEnv,
          });
    const scheduler = new Scheduler({
      db,
      executor,
      bus,
      log: log.child({ component: "scheduler" }),
      config,
    });
    const workflows = new WorkflowService({ db, signer });
    const logsDir = join(dataDir, "logs");
    await mkdir(logsDir, { recursive: true, mode: 0o700 });
    const executions = new ExecutionService({ db, scheduler, workflows, bus, logsDir });
    const agent = new AttemptAgentService({
      db,
      blobs,
      signer,
      scheduler,
      logsDir,
      bus,
      publicUrl: () => baseUrl,
      log: log.child({ component: "agent-api" }),
    });
    const sessions = new SessionService({
      db,
      log: log.child({ component: "sessions" }),
      relay: config,
      bus,
    });
    const auth = new Authenticator(db, token, relayToken);
    const app = await buildApp({
      handlers: createHandlers({
        db,
        workflows,
        executions,
        agent,
        scheduler,
        sessions,
        executor: executor.kind,
      }),
      auth,
      console: {
        sessions: new ConsoleSessions(secrets.signingSecret, token, (t) => auth.isUserToken(t)),
        dist: await consoleDist(config.consoleDir ?? builtConsole()),
      },
      blobs,
      signer,
      log,
      onBundleUploaded: (sha256, size) => workflows.bundleUploaded(sha256, size),
    });
    cleanups.push(() => app.close());
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
    baseUrl = config.publicUrl ?? url;

    await scheduler.start();
    cleanups.push(() => scheduler.stop());
    log.info({ url, dataDir }, "drydock control plane is up");
    return {
      url,
      consoleUrl: `${baseUrl}/?token=${token}`,
      token,
      relayToken,
      dataDir,
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
