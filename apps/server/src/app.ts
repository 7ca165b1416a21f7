import { randomUUID } from "node:crypto";

import { createAppRouter } from "@drydock/contracts/router";
import type { AccessChecker, AppHandlers, AppRouter, Principal } from "@drydock/contracts/router";
import cookie from "@fastify/cookie";
import websocket from "@fastify/websocket";
import { fastifyTRPCPlugin } from "@trpc/server/adapters/fastify";
import type { FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify, { LogController } from "fastify";

import { bearer } from "./auth.js";
import type { Authenticator } from "./auth.js";
import type { LocalBlobStore } from "./blobs/blob-store.js";
import { blobRoutes } from "./blobs/routes.js";
import { clientOf, consoleRoutes } from "./console.js";
import type { ConsoleSignIn } from "./console.js";
import type { BlobUrlSigner } from "./blobs/signing.js";
import type { OidcConfig } from "./env.js";
import { oidcRoutes } from "./identity/oidc.js";
import type { SignInService } from "./identity/sign-in.js";
import type { Logger } from "./logger.js";
import type { Db } from "./db/database.js";

export interface AppDeps {
  handlers: AppHandlers;
  auth: Authenticator;
  /** Decides every project access of the router (in each request's context). */
  accessChecker: AccessChecker;
  /** The console: signing in and out, and its build (absent: a page says to build it). */
  console: { signIn: ConsoleSignIn; dist: string | undefined };
  /** Sign-in through an OpenID provider, when one is configured. */
  oidc?: { config: OidcConfig; signIn: SignInService; publicUrl: () => string; db: Db } | undefined;
  /** Signs cookies of the sign-in flows (the OpenID state). */
  cookieSecret: string;
  blobs: LocalBlobStore;
  signer: BlobUrlSigner;
  log: Logger;
  /** Told when a bundle lands through its signed upload URL. */
  onBundleUploaded: (sha256: string, size: number) => Promise<void>;
  maxBlobBytes?: number;
}

const BUNDLE_KEY = /^bundles\/([a-f0-9]{64})\.tgz$/;

/** Builds the control plane's HTTP app (tRPC over HTTP and WebSocket, blobs, the console); does not listen. */
export async function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 32 * 1024 * 1024,
    routerOptions: { maxParamLength: 5_000 },
  });
  await app.register(cookie, { secret: deps.cookieSecret });
  await app.register(websocket);
  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    useWSS: true,
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 },
    trpcOptions: {
      router: createAppRouter(deps.handlers),
      createContext: async ({ req, info }) => {
        const fromParams = info.connectionParams?.token;
        const token =
          bearer(req.headers.authorization) ??
          (typeof fromParams === "string" ? fromParams : undefined);
        // A token names who calls (CLI, agent, relay); without one, the console's cookie may.
        const principal: Principal | null =
          token === undefined
            ? await deps.auth.principalOfCookie(req.headers)
            : await deps.auth.principal(token);
        return {
          principal,
          requestId: randomUUID(),
          client: clientOf(req),
          accessChecker: deps.accessChecker,
        };
      },
      onError: ({ path, error }) => {
        if (error.code === "INTERNAL_SERVER_ERROR")
          deps.log.error({ err: error, path }, "tRPC procedure failed");
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });
  await app.register(blobRoutes, {
    store: deps.blobs,
    signer: deps.signer,
    maxBytes: deps.maxBlobBytes ?? 512 * 1024 * 1024,
    onWritten: async (key, sha256, size) => {
      const bundle = BUNDLE_KEY.exec(key);
      if (!bundle) return;
      if (bundle[1] !== sha256) {
        await deps.blobs.remove(key);
        throw Object.assign(
          new Error(`the uploaded bundle's sha256 is ${sha256}, not ${bundle[1]}`),
          { statusCode: 400 },
        );
      }
      await deps.onBundleUploaded(sha256, size);
    },
  });
  app.get("/healthz", () => ({ ok: true }));
  if (deps.oidc) await app.register(oidcRoutes, deps.oidc);
  await app.register(consoleRoutes, deps.console);
  return app;
}
