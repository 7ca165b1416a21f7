import { createHash } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { Isolation } from "@drydock/contracts/router";
import Docker from "dockerode";

import { LocalBlobStore } from "./blobs/blob-store.js";
import { assembleControlPlane, blobsDir } from "./control-plane.js";
import type { ControlPlane } from "./control-plane.js";
import { cannotUse, lockDataDir } from "./data-dir.js";
import type { DataDirLock } from "./data-dir.js";
import { createDatabase } from "./db/database.js";
import type { Db } from "./db/database.js";
import { migrateToLatest } from "./db/migrations.js";
import { startEmbeddedPostgres } from "./db/postgres.js";
import { ServerConfigSchema } from "./env.js";
import type { ServerConfig, ServerConfigInput } from "./env.js";
import { DockerExecutor } from "./executor/docker.js";
import type { Executor } from "./executor/executor.js";
import { LocalProcessExecutor } from "./executor/local-process.js";
import { SwarmExecutor } from "./executor/swarm.js";
import { createLogger } from "./logger.js";
import type { Logger } from "./logger.js";
import { assertPortFree } from "./ports.js";
import { linkBusThroughPostgres } from "./services/bus-link.js";
import { bundleKey } from "./services/workflows.js";
import { newReplicaId } from "./services/scheduler/replicas.js";
import { loadSecrets } from "./secrets.js";
import type { Secrets } from "./secrets.js";

export interface RunningServer {
  /** Where the API listens, e.g. http://127.0.0.1:8484. */
  url: string;
  /** The console's URL (nothing secret in it: sign in with `signInLink`). */
  consoleUrl: string;
  /** A one-time link signing the local admin into the console, valid for ten minutes. */
  signInLink(next?: string): Promise<{ url: string; expiresAt: string }>;
  /** The local admin's long-lived token (for the CLI's private context file; never in a URL). */
  token: string;
  /** The token relays present to this server (configured, or generated and kept in the data directory). */
  relayToken: string;
  dataDir: string;
  /** How attempts are kept apart (`none`: not root, so one person only — `drydock up` says so). */
  isolation: Isolation;
  /**
   * Hears a failure this server cannot go on after (its replica's lock connection broke, so other replicas may
   * take its attempts over): the caller closes it and exits, and its supervisor starts it again.
   */
  onFatal(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

/** The agent's built entry, which the local executor runs for every attempt. */
export function agentEntry(): string {
  return join(dirname(fileURLToPath(import.meta.resolve("@drydock/agent"))), "main.js");
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
  const cleanups = new CleanupSteps(log);
  if (!dataDirLock) cleanups.add(() => lock.release());
  try {
    return await startControlPlane(config, dataDir, log, cleanups);
  } catch (error) {
    await cleanups.run();
    throw error;
  }
}

/** What undoes a start, step by step, newest first; a step that fails is logged and the others still run. */
class CleanupSteps {
  private readonly steps: (() => Promise<void>)[] = [];

  constructor(private readonly log: Logger) {}

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const fn of this.steps.reverse())
      await fn().catch((err: unknown) => this.log.error({ err }, "clean-up step failed"));
    this.steps.length = 0;
  }
}

/** Everything after the lock: each part it starts adds the step that stops it to `cleanups`. */
async function startControlPlane(
  config: ServerConfig,
  dataDir: string,
  log: Logger,
  cleanups: CleanupSteps,
): Promise<RunningServer> {
  await keepDataDirPrivate(dataDir, log);
  const secrets = await loadSecrets(dataDir);
  const token = config.token ?? secrets.token;
  const relayToken = config.relayToken ?? secrets.relayToken;
  const signingSecret = config.signingSecret ?? secrets.signingSecret;
  const sharedDir = config.sharedDir === undefined ? undefined : resolve(config.sharedDir);
  if (sharedDir) await mkdir(sharedDir, { recursive: true, mode: 0o700 });
  const replica = newReplicaId();
  const { db, url: databaseUrl } = await openDatabase(config, dataDir, secrets, log, cleanups);

  // Known once listening, unless configured: blob URLs and agents' endpoint read it when they need it.
  let baseUrl = config.publicUrl ?? "";
  const publicUrl = () => baseUrl;
  // The local executor reads bundles from the blob store to put them in isolated agents' caches.
  const bundles = new LocalBlobStore(blobsDir(dataDir, sharedDir));
  const bundleTarball = (sha256: string) => bundles.readBuffer(bundleKey(sha256));
  const executor = createExecutor(config, dataDir, signingSecret, replica, publicUrl, log, {
    bundleTarball,
  });
  refuseUnisolatedTeams(config, executor.isolation);
  const fatal: ((error: Error) => void)[] = [];
  const plane = await assembleControlPlane({
    config,
    dataDir,
    ...(sharedDir ? { sharedDir } : {}),
    db,
    executor,
    replica,
    tokens: { token, relayToken, signingSecret },
    publicUrl,
    log,
    onReplicaLost: (error) => fatal.forEach((listener) => listener(error)),
  });
  const { app, services, identity } = plane;
  if (config.events === "postgres") {
    const link = await linkBusThroughPostgres(services.bus, { url: databaseUrl, log });
    cleanups.add(() => link.close());
  }
  cleanups.add(() => app.close());
  const url = await listen(app, config);
  baseUrl = config.publicUrl ?? url;

  await services.scheduler.start();
  cleanups.add(() => services.scheduler.stop());
  await identity.shares.start();
  cleanups.add(() => Promise.resolve(identity.shares.stop()));
  log.info({ url, dataDir }, "drydock control plane is up");
  return {
    url,
    consoleUrl: baseUrl,
    signInLink: (next) => plane.signInLink(next),
    token,
    relayToken,
    dataDir,
    isolation: executor.isolation,
    onFatal: (listener) => fatal.push(listener),
    close: () => cleanups.run(),
  };
}

/**
 * Several people may sign in only where their tasks and IDEs are kept apart: with an OpenID provider configured
 * and attempts not isolated (a server that is not root, on the local executor), the server refuses to start.
 */
export function refuseUnisolatedTeams(config: Pick<ServerConfig, "oidc">, isolation: Isolation) {
  if (config.oidc && isolation === "none")
    throw new Error(
      "DRYDOCK_OIDC_ISSUER is set, but this server cannot keep attempts apart (it is not root, so every task and IDE would run as it and could read its data directory and each other's tokens): run it as root, or with DRYDOCK_EXECUTOR=docker, or unset DRYDOCK_OIDC_* to run for one person",
    );
}

/** Older versions left it 0755. A directory another user owns is theirs to keep private. */
async function keepDataDirPrivate(dataDir: string, log: Logger): Promise<void> {
  await chmod(dataDir, 0o700).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EPERM") throw cannotUse(dataDir, error);
    log.warn({ dataDir }, "the data directory belongs to another user: its mode is left as it is");
  });
}

/** The configured database, or an embedded PostgreSQL in the data directory; migrated to the latest schema. */
async function openDatabase(
  config: ServerConfig,
  dataDir: string,
  secrets: Secrets,
  log: Logger,
  cleanups: CleanupSteps,
): Promise<{ db: Db; url: string }> {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const postgres = await startEmbeddedPostgres(dataDir, log, secrets);
    cleanups.add(() => postgres.stop());
    databaseUrl = postgres.url;
  }
  const db = createDatabase(databaseUrl, log);
  cleanups.add(() => db.destroy());
  await migrateToLatest(db as never);
  return { db, url: databaseUrl };
}

/** Where attempts' agents run: processes of this machine, containers on its Docker engine, or a swarm's services. */
function createExecutor(
  config: ServerConfig,
  dataDir: string,
  signingSecret: string,
  replica: string,
  publicUrl: () => string,
  log: Logger,
  { bundleTarball }: { bundleTarball: (sha256: string) => Promise<Buffer> },
): Executor {
  const attemptsDir = join(dataDir, "attempts");
  const executorLog = log.child({ component: "executor" });
  if (config.executor === "local")
    return new LocalProcessExecutor({
      agentEntry: agentEntry(),
      attemptsDir,
      cacheDir: join(dataDir, "cache"),
      endpoint: publicUrl,
      log: executorLog,
      env: config.agentEnv,
      bundleTarball,
    });
  // What the Docker and Swarm executors share: the engine (a manager's, for Swarm), the default image, where
  // agents reach the server, and the labels that keep installations and replicas apart.
  const engine = {
    docker: new Docker({ socketPath: config.docker.socket }),
    taskImage: config.docker.taskImage,
    endpoint: () => config.docker.agentEndpoint ?? publicUrl(),
    instance: createHash("sha256")
      .update(`drydock instance\n${signingSecret}`)
      .digest("hex")
      .slice(0, 16),
    replica,
    attemptsDir,
    // The image has its own PATH, HOME and cache; agents get only Drydock's tuning variables.
    env: Object.fromEntries(
      Object.entries(config.agentEnv).filter(([k]) => k.startsWith("DRYDOCK_")),
    ),
    log: executorLog,
  };
  if (config.executor === "swarm") {
    const { network, unplacedSeconds, constraints } = config.swarm;
    // env.ts refuses DRYDOCK_EXECUTOR=swarm without a network; this only tells the type.
    if (!network) throw new Error("DRYDOCK_EXECUTOR=swarm needs DRYDOCK_SWARM_NETWORK");
    return new SwarmExecutor({ ...engine, network, unplacedSeconds, constraints });
  }
  return new DockerExecutor({ ...engine, network: config.docker.network });
}

/** Listens where configured and says where: the URL carries the port actually bound (`port: 0` picks one). */
async function listen(app: ControlPlane["app"], config: ServerConfig): Promise<string> {
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  return `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
}
