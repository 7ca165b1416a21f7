/**
 * Signing in to the console with OpenID Connect: the authorization code flow with PKCE, state and nonce
 * (`GET /auth/oidc/start` → the provider → `GET /auth/oidc/callback`), and the relying party the CLI's device
 * flow (`oidc-device.ts`) shares. Who the person becomes in Drydock, and their session, is the sign-in
 * service's business (`SignInPort`); this file only proves who they are at the provider.
 */

import { AppError } from "@drydock/contracts";
import type { AppErrorKind } from "@drydock/contracts";
import type { ClientInfo } from "@drydock/contracts/router";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as oidc from "openid-client";
import { z } from "zod";

import type { Db } from "../db/database.js";
import type { OidcConfig } from "../env.js";
import { landingPath } from "./landing-path.js";
import { PendingSignIns } from "./pending-sign-ins.js";

/** Who the provider says signed in. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
}

/** What the sign-in service does once the provider has vouched for someone. */
export interface SignInPort {
  /** The Drydock user for this provider identity (created or linked at first sign-in). */
  userFromOidc(identity: OidcIdentity, client: ClientInfo): Promise<{ id: string; name: string }>;
  /** A new console session for the user; `cookie` is the value to set. */
  startWebSession(userId: string, client: ClientInfo): Promise<{ cookie: string; expiresAt: Date }>;
  /** A new API key for the CLI, named `name`; resolves to its secret. */
  issueCliKey(userId: string, name: string, client: ClientInfo): Promise<string>;
  /** Sets the console's session cookie on the reply. */
  setSessionCookie(reply: FastifyReply, value: string, request: FastifyRequest): void;
}

/** The OpenID sign-in's error catalogue. */
export const OidcErrors = {
  noProvider: () =>
    new AppError(
      "OIDC_NOT_CONFIGURED",
      "PRECONDITION_FAILED",
      "this server has no OpenID provider: sign in with an API key (`drydock login --api-key`)",
    ),
  providerUnreachable: (issuer: string, cause: unknown) =>
    new AppError(
      "OIDC_PROVIDER_UNREACHABLE",
      "INTERNAL_SERVER_ERROR",
      `the OpenID provider at ${issuer} could not be reached or answered badly: ${messageOf(cause)}`,
      { cause },
    ),
  signInNotStarted: () =>
    new AppError(
      "OIDC_SIGN_IN_NOT_STARTED",
      "BAD_REQUEST",
      "this sign-in was not started in this browser, was already used, or took longer than 10 minutes: start again",
    ),
  providerRefused: (what: string, error: string, description: string | undefined) =>
    new AppError(
      "OIDC_PROVIDER_REFUSED",
      "UNAUTHORIZED",
      `the OpenID provider refused ${what}: ${error}${description ? ` (${description})` : ""}`,
    ),
  answerRejected: (cause: unknown) =>
    new AppError(
      "OIDC_ANSWER_REJECTED",
      "UNAUTHORIZED",
      `the OpenID provider's answer failed a check and was refused: ${messageOf(cause)}`,
      { cause },
    ),
  noSubject: () =>
    new AppError(
      "OIDC_NO_SUBJECT",
      "UNAUTHORIZED",
      "the OpenID provider returned no ID token naming the person",
    ),
} as const;

/** An error's message with its causes' (openid-client says "invalid response encountered" and why in the cause). */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message}: ${messageOf(error.cause)}`;
}

/** The scopes asked for: who the person is, their email address and their name. */
export const OIDC_SCOPES = "openid email profile";

/** How long a started sign-in (browser or device) may take before its state is dropped. */
const SIGN_IN_TTL_MS = 10 * 60_000;

/** Plain HTTP is allowed to a provider on this machine only (a test or a laptop's own provider). */
function isLoopback(url: URL): boolean {
  return ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/**
 * This server as an OpenID relying party: the provider's configuration, discovered on first use and kept
 * (a failed discovery is tried again on the next use, so a provider that was down at start-up does not need
 * a restart), and what a token response says about the person.
 */
export class OidcRelyingParty {
  private discovered: Promise<oidc.Configuration> | undefined;

  constructor(readonly config: OidcConfig) {}

  configuration(): Promise<oidc.Configuration> {
    this.discovered ??= this.discover().catch((error: unknown) => {
      this.discovered = undefined;
      throw OidcErrors.providerUnreachable(this.config.issuer, error);
    });
    return this.discovered;
  }

  private discover(): Promise<oidc.Configuration> {
    const issuer = new URL(this.config.issuer);
    return oidc.discovery(
      issuer,
      this.config.clientId,
      undefined,
      // The spec's default, which every certified provider supports.
      oidc.ClientSecretBasic(this.config.clientSecret),
      isLoopback(issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined,
    );
  }

  /**
   * The person a token response names: the ID token's claims (already checked: issuer, audience, expiry and,
   * in the browser flow, nonce), completed from the userinfo endpoint when the ID token leaves out the email
   * or name, as providers that keep the ID token small do.
   */
  async identify(
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  ): Promise<OidcIdentity> {
    const configuration = await this.configuration();
    const claims = tokens.claims();
    if (!claims) throw OidcErrors.noSubject();
    let profile: Record<string, unknown> = claims;
    if (claims.email === undefined || claims.name === undefined) {
      const userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      profile = { ...userinfo, ...claims };
    }
    const identity: OidcIdentity = {
      issuer: configuration.serverMetadata().issuer,
      subject: claims.sub,
    };
    if (typeof profile.email === "string") identity.email = profile.email;
    if (typeof profile.email_verified === "boolean")
      identity.emailVerified = profile.email_verified;
    if (typeof profile.name === "string") identity.name = profile.name;
    return identity;
  }
}

/** What a browser's sign-in keeps on the server between start and callback. */
interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  next: string;
}

/** The browser's handle on its pending sign-in: HttpOnly, and sent back only to these routes. */
export const OIDC_SIGN_IN_COOKIE = "drydock_oidc";
const COOKIE_PATH = "/auth/oidc";

const StartQuery = z.object({ next: z.string().max(2_000).optional() });

export interface OidcRoutesOptions {
  config: OidcConfig;
  /** Where sign-ins under way are kept, so the callback may reach any replica. */
  db: Db;
  signIn: SignInPort;
  /** This server's public base URL; the provider sends people back to `<publicUrl>/auth/oidc/callback`. */
  publicUrl: () => string;
}

/** `GET /auth/oidc/start?next=/path` and `GET /auth/oidc/callback`: the console's OpenID sign-in. */
export function oidcRoutes(
  app: FastifyInstance,
  options: OidcRoutesOptions,
  done: (error?: Error) => void,
): void {
  const party = new OidcRelyingParty(options.config);
  const pending = new PendingSignIns<PendingSignIn>(options.db, "browser", SIGN_IN_TTL_MS, 10_000);
  const redirectUri = () => `${options.publicUrl().replace(/\/+$/, "")}${COOKIE_PATH}/callback`;

  app.get("/auth/oidc/start", async (request, reply) => {
    const query = StartQuery.safeParse(request.query);
    const next = landingPath(query.success ? query.data.next : undefined);
    try {
      const url = await authorizationUrl(party, pending, next, redirectUri(), reply, request);
      return await noStore(reply).redirect(url.href, 303);
    } catch (error) {
      return signInFailed(request, reply, error);
    }
  });

  app.get("/auth/oidc/callback", async (request, reply) => {
    const handle = request.cookies[OIDC_SIGN_IN_COOKIE];
    reply.clearCookie(OIDC_SIGN_IN_COOKIE, { path: COOKIE_PATH });
    try {
      const started = handle ? await pending.take(handle) : undefined;
      if (!started) throw OidcErrors.signInNotStarted();
      const identity = await exchangeCode(party, started, redirectUri(), request.url);
      const client = clientInfo(request);
      const user = await options.signIn.userFromOidc(identity, client);
      const session = await options.signIn.startWebSession(user.id, client);
      options.signIn.setSessionCookie(reply, session.cookie, request);
      return await noStore(reply).redirect(started.next, 303);
    } catch (error) {
      return signInFailed(request, reply, error);
    }
  });
  done();
}

/**
 * Starts a sign-in: a fresh PKCE verifier, state and nonce kept on the server under a random handle that
 * only this browser holds (its cookie), so a callback URL carried to another browser signs nobody in.
 */
async function authorizationUrl(
  party: OidcRelyingParty,
  pending: PendingSignIns<PendingSignIn>,
  next: string,
  redirectUri: string,
  reply: FastifyReply,
  request: FastifyRequest,
): Promise<URL> {
  const configuration = await party.configuration();
  const started: PendingSignIn = {
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    codeVerifier: oidc.randomPKCECodeVerifier(),
    next,
  };
  const handle = await pending.put(started);
  reply.setCookie(OIDC_SIGN_IN_COOKIE, handle, {
    httpOnly: true,
    // Lax: the provider's redirect back is a top-level GET from another site.
    sameSite: "lax",
    secure: request.protocol === "https",
    path: COOKIE_PATH,
    maxAge: SIGN_IN_TTL_MS / 1_000,
  });
  return oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri,
    scope: OIDC_SCOPES,
    state: started.state,
    nonce: started.nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(started.codeVerifier),
    code_challenge_method: "S256",
  });
}

/**
 * Trades the callback's code for tokens, with every check: the state this browser started with, the PKCE
 * verifier, the ID token's issuer, audience, expiry and nonce. (The ID token comes straight from the token
 * endpoint, so its signature is not checked again: OpenID Connect Core §3.1.3.7 lets TLS vouch for it.)
 */
async function exchangeCode(
  party: OidcRelyingParty,
  started: PendingSignIn,
  redirectUri: string,
  requestUrl: string,
): Promise<OidcIdentity> {
  const configuration = await party.configuration();
  // The redirect URI exactly as sent at the start, with the provider's parameters on it.
  const currentUrl = new URL(redirectUri);
  currentUrl.search = new URL(requestUrl, "http://drydock.invalid").search;
  try {
    const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    });
    return await party.identify(tokens);
  } catch (error) {
    throw providerError(error, "the sign-in");
  }
}

/** An openid-client failure as one of ours: the provider said no, or its answer failed a check. */
export function providerError(error: unknown, what: string): unknown {
  if (error instanceof AppError) return error;
  if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError)
    return OidcErrors.providerRefused(what, error.error, error.error_description);
  if (error instanceof oidc.ClientError) return OidcErrors.answerRejected(error);
  return error;
}

export function clientInfo(request: FastifyRequest): ClientInfo {
  const client: ClientInfo = { ip: request.ip };
  const userAgent = request.headers["user-agent"];
  if (userAgent) client.userAgent = userAgent;
  return client;
}

const HTTP_STATUS: Record<AppErrorKind, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  PRECONDITION_FAILED: 412,
  INTERNAL_SERVER_ERROR: 500,
};

/** The page a failed sign-in shows: what went wrong, in words, and a way back to the sign-in page. */
function signInFailed(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  const known = error instanceof AppError;
  const status = known ? HTTP_STATUS[error.kind] : 500;
  const message = known ? error.message : "signing in failed on the server; its log says why";
  if (status >= 500) request.log.error({ err: error }, "OpenID sign-in failed");
  else
    request.log.warn({ code: (error as AppError).code, reason: message }, "OpenID sign-in refused");
  return noStore(reply)
    .code(status)
    .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
    .header("referrer-policy", "no-referrer")
    .type("text/html; charset=utf-8")
    .send(
      `<!doctype html><html><head><meta charset="utf-8"><title>Sign-in failed · Drydock</title></head>` +
        `<body><h1>Sign-in failed</h1><p id="problem">${escapeHtml(message)}</p>` +
        `<p><a href="/">Back to the sign-in page</a></p></body></html>`,
    );
}

/** Sign-in responses carry one-time codes and cookies: nothing may keep them. */
function noStore(reply: FastifyReply): FastifyReply {
  return reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}
