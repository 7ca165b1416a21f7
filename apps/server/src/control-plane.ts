/**
 * The control plane's parts, wired together but not started: services, people, handlers and the HTTP app.
 * `startServer` runs it over a data directory; tests run it over a test database and a scripted executor.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { LOCAL_ADMIN_ID } from "@drydock/contracts";

import { buildApp } from "./app.js";
import { Authenticator } from "./auth.js";
import { LocalBlobStore } from "./blobs/blob-store.js";
import { BlobUrlSigner } from "./blobs/signing.js";
import { consoleDist } from "./console.js";
import type { Db } from "./db/database.js";
import type { ServerConfig } from "./env.js";
import type { Executor } from "./executor/executor.js";
import { createHandlers } from "./handlers.js";
import { createIdentityServices } from "./identity/services.js";
import { landingPath } from "./identity/landing-path.js";
import { createDeviceLogin } from "./identity/oidc-device.js";
import type { Logger } from "./logger.js";
import { AgentTokens } from "./services/agent-token.js";
import { AttemptAgentService } from "./services/attempt-agent.js";
import { EventBus } from "./services/event-bus.js";
import { ExecutionService } from "./services/executions.js";
import { Scheduler } from "./services/scheduler.js";
import { SessionService } from "./services/sessions.js";
import { WorkflowService } from "./services/workflows.js";

/** The console's build, where the workspace (or an install) put @drydock/console; undefined when it is not there. */
function builtConsole(): string | undefined {
  try {
    return dirname(fileURLToPath(import.meta.resolve("@drydock/console/dist")));
  } catch {
    return undefined;
  }
}

export interface ControlPlaneDeps {
  config: ServerConfig;
  dataDir: string;
  /** Where blobs and task logs live: a volume every replica mounts (the data directory by default). */
  sharedDir?: string;
  db: Db;
  executor: Executor;
  tokens: { token: string; relayToken: string; signingSecret: string };
  /** This server's base URL, once known. */
  publicUrl: () => string;
  log: Logger;
  /** This replica can no longer schedule (its lock connection broke): the server must stop. */
  onReplicaLost?: (error: Error) => void;
  /** This server replica's id, as its executor labels what it starts (a new one when absent). */
  replica?: string;
}

export type ControlPlane = Awaited<ReturnType<typeof assembleControlPlane>>;

/** Where blobs (bundles, inputs, outputs) are kept: under the shared directory, else the data directory. */
export const blobsDir = (dataDir: string, sharedDir?: string) =>
  join(sharedDir ?? dataDir, "blobs");

/** Builds every part; nothing listens and the scheduler has not started. */
export async function assembleControlPlane(deps: ControlPlaneDeps) {
  const { config, db, executor, tokens, publicUrl, log } = deps;
  const blobs = new LocalBlobStore(blobsDir(deps.dataDir, deps.sharedDir));
  const signer = new BlobUrlSigner(tokens.signingSecret, publicUrl);
  const services = await createServices({ ...deps, blobs, signer });
  const identity = createIdentityServices({ db, log, oidc: config.oidc });
  const auth = new Authenticator(
    db,
    tokens.token,
    tokens.relayToken,
    identity,
    services.agentTokens,
  );
  const handlers = createHandlers({
    db,
    ...services,
    executor: executor.kind,
    isolation: executor.isolation,
    ...(config.registry ? { registry: config.registry } : {}),
    identity,
    deviceLogin: createDeviceLogin({ config: config.oidc, signIn: identity.signIn, db }),
    oidcName: config.oidc?.name,
    publicUrl,
  });
  const app = await buildApp({
    handlers,
    auth,
    accessChecker: identity.checker,
    console: {
      signIn: identity,
      dist: await consoleDist(config.consoleDir ?? builtConsole()),
    },
    oidc: config.oidc ? { config: config.oidc, signIn: identity.signIn, publicUrl, db } : undefined,
    cookieSecret: createHash("sha256")
      .update(`drydock-cookies:${tokens.signingSecret}`)
      .digest("hex"),
    blobs,
    signer,
    log,
    onBundleUploaded: (sha256, size) => services.workflows.bundleUploaded(sha256, size),
  });
  return {
    app,
    services,
    identity,
    auth,
    handlers,
    /** A one-time link signing the local admin into the console, landing on `next` (a path; `/` if absent). */
    async signInLink(next?: string): Promise<{ url: string; expiresAt: string }> {
      const { code, expiresAt } = await identity.codes.issue(LOCAL_ADMIN_ID);
      const url = new URL("/auth/sign-in", publicUrl());
      url.searchParams.set("code", code);
      if (next !== undefined) url.searchParams.set("next", landingPath(next));
      return { url: url.toString(), expiresAt: expiresAt.toISOString() };
    },
  };
}

/** What the services behind the API are built from (the tests build them from the same). */
export interface ServiceDeps extends Pick<
  ControlPlaneDeps,
  "dataDir" | "sharedDir" | "db" | "executor" | "publicUrl" | "log" | "onReplicaLost" | "replica"
> {
  config: Pick<
    ServerConfig,
    | "maxParallel"
    | "heartbeatTimeoutSeconds"
    | "startTimeoutSeconds"
    | "lostAttemptRetries"
    | "relayUrl"
    | "ideOrigin"
  >;
  blobs: LocalBlobStore;
  signer: BlobUrlSigner;
}

/** The services behind the API, sharing one event bus; the scheduler is not started yet. */
export async function createServices(deps: ServiceDeps) {
  const { config, db, executor, blobs, signer, publicUrl, log } = deps;
  const bus = new EventBus();
  const agentTokens = new AgentTokens();
  const scheduler = new Scheduler({
    db,
    executor,
    bus,
    agentTokens,
    log: log.child({ component: "scheduler" }),
    config,
    ...(deps.onReplicaLost ? { onReplicaLost: deps.onReplicaLost } : {}),
    ...(deps.replica ? { replica: deps.replica } : {}),
  });
  const workflows = new WorkflowService({ db, signer });
  const logsDir = join(deps.sharedDir ?? deps.dataDir, "logs");
  await mkdir(logsDir, { recursive: true, mode: 0o700 });
  const agent = new AttemptAgentService({
    db,
    blobs,
    signer,
    scheduler,
    logsDir,
    bus,
    publicUrl,
    log: log.child({ component: "agent-api" }),
  });
  const sessions = new SessionService({
    db,
    log: log.child({ component: "sessions" }),
    relay: config,
    bus,
  });
  const executions = new ExecutionService({
    db,
    scheduler,
    workflows,
    sessions,
    blobs,
    bus,
    logsDir,
  });
  return { bus, logsDir, scheduler, workflows, executions, agent, sessions, agentTokens };
}
