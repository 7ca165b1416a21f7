import { AppError, DevicePollSchema, DeviceStartSchema } from "@drydock/contracts";
import type { ClientInfo } from "@drydock/contracts/router";
import cookie from "@fastify/cookie";
import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import {
  approveDeviceAtProvider,
  FormBrowser,
  signInAtProvider,
  startOidcProvider,
  TEST_OIDC_USERS,
} from "../__tests__/oidc-provider.js";
import type { TestOidcProvider, TestOidcUser } from "../__tests__/oidc-provider.js";
import { testDatabase } from "../__tests__/postgres.js";
import type { Db } from "../db/database.js";
import type { OidcConfig } from "../env.js";
import { cliKeyName, createDeviceLogin } from "./oidc-device.js";
import { landingPath } from "./landing-path.js";
import { OIDC_SIGN_IN_COOKIE, oidcRoutes } from "./oidc.js";
import type { OidcIdentity, SignInPort } from "./oidc.js";

/** The relying party's address: requests reach it through `inject`, so no socket is needed. */
const PUBLIC_URL = "http://drydock.test:8484";
const CALLBACK = `${PUBLIC_URL}/auth/oidc/callback`;
const [alice, bob] = TEST_OIDC_USERS as [TestOidcUser, TestOidcUser];

/** A sign-in service that records what it is asked and answers with made-up users, sessions and keys. */
class RecordingSignIn implements SignInPort {
  identities: OidcIdentity[] = [];
  sessions: string[] = [];
  keys: { userId: string; name: string; client: ClientInfo }[] = [];

  userFromOidc(identity: OidcIdentity) {
    this.identities.push(identity);
    return Promise.resolve({ id: `user-${identity.subject}`, name: identity.name ?? "?" });
  }
  startWebSession(userId: string) {
    this.sessions.push(userId);
    return Promise.resolve({
      cookie: `session-of-${userId}`,
      expiresAt: new Date(Date.now() + 1e6),
    });
  }
  issueCliKey(userId: string, name: string, client: ClientInfo) {
    this.keys.push({ userId, name, client });
    return Promise.resolve(`ddk_key_of_${userId}`);
  }
  setSessionCookie: SignInPort["setSessionCookie"] = (reply, value) => {
    reply.setCookie("test_session", value, { path: "/", httpOnly: true });
  };
}

let provider: TestOidcProvider;
let config: OidcConfig;
let signIn: RecordingSignIn;
let app: FastifyInstance;
let pg: Awaited<ReturnType<typeof testDatabase>> | undefined;
let db: Db;

beforeAll(async () => {
  pg = await testDatabase();
  db = pg.db;
  provider = await startOidcProvider({ redirectUris: [CALLBACK] });
  config = {
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    name: "Test provider",
    adminEmails: [],
  };
});
afterAll(async () => {
  await app?.close();
  await provider?.close();
  await pg?.close();
});
beforeEach(async () => {
  await app?.close();
  signIn = new RecordingSignIn();
  app = Fastify();
  await app.register(cookie);
  await app.register(oidcRoutes, { config, signIn, publicUrl: () => PUBLIC_URL, db });
});

/** `GET /auth/oidc/start`: where it sends the browser, and the cookie that holds the sign-in's handle. */
async function start(next?: string) {
  const query = next === undefined ? "" : `?next=${encodeURIComponent(next)}`;
  const res = await app.inject({ method: "GET", url: `/auth/oidc/start${query}` });
  expect(res.statusCode, res.body).toBe(303);
  const handle = res.cookies.find((c) => c.name === OIDC_SIGN_IN_COOKIE);
  expect(handle?.httpOnly).toBe(true);
  return { location: String(res.headers.location), handle: handle?.value ?? "" };
}

/** Back at the relying party from the provider: `GET /auth/oidc/callback?…` with the browser's handle. */
function callback(returnedTo: URL, handle: string | undefined) {
  expect(returnedTo.origin + returnedTo.pathname).toBe(CALLBACK);
  return app.inject({
    method: "GET",
    url: `${returnedTo.pathname}${returnedTo.search}`,
    cookies: handle === undefined ? {} : { [OIDC_SIGN_IN_COOKIE]: handle },
  });
}

describe("console sign-in (authorization code + PKCE)", () => {
  it.each([alice, bob])("signs $email in through the provider's login page", async (user) => {
    const { location, handle } = await start("/executions/ex-1?tab=dag");
    const authorization = new URL(location);
    expect(authorization.origin).toBe(provider.issuer);
    expect(authorization.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorization.searchParams.get("nonce")).toBeTruthy();

    const res = await callback(await signInAtProvider(provider, location, user), handle);

    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe("/executions/ex-1?tab=dag");
    expect(res.cookies.find((c) => c.name === "test_session")?.value).toBe(
      `session-of-user-${user.subject}`,
    );
    expect(signIn.identities).toEqual([
      {
        issuer: provider.issuer,
        subject: user.subject,
        email: user.email,
        emailVerified: true,
        name: user.name,
      },
    ]);
    expect(signIn.sessions).toEqual([`user-${user.subject}`]);
  });

  it("finishes on another server replica than the one it started on (sign-ins under way are in the database)", async () => {
    const { location, handle } = await start("/executions");
    // The provider sends the browser back through the load balancer, to the other replica.
    const other = Fastify();
    await other.register(cookie);
    await other.register(oidcRoutes, { config, signIn, publicUrl: () => PUBLIC_URL, db });
    try {
      const returnedTo = await signInAtProvider(provider, location, alice);
      const res = await other.inject({
        method: "GET",
        url: `${returnedTo.pathname}${returnedTo.search}`,
        cookies: { [OIDC_SIGN_IN_COOKIE]: handle },
      });
      expect(res.statusCode, res.body).toBe(303);
      expect(res.headers.location).toBe("/executions");
      expect(signIn.sessions).toEqual(["user-alice"]);
      // The handle is spent, on every replica.
      const again = await callback(returnedTo, handle);
      expect(again.headers.location).not.toBe("/executions");
      expect(signIn.sessions).toEqual(["user-alice"]);
    } finally {
      await other.close();
    }
  });

  it("stays at the provider's login page for a wrong password", async () => {
    const { location } = await start();
    const browser = new FormBrowser(provider.issuer);
    const login = await browser.open(location);

    const refused = await browser.submit(login, { email: alice.email, password: bob.password });

    expect(refused.status).toBe(401);
    expect(refused.html).toContain("Wrong email or password");
    expect(refused.leftTo).toBeUndefined();
  });

  it("refuses a callback whose state was forged, and signs nobody in", async () => {
    const { location, handle } = await start();
    const returnedTo = await signInAtProvider(provider, location, alice);
    returnedTo.searchParams.set("state", "forged-by-someone-else");

    const res = await callback(returnedTo, handle);

    expect(res.statusCode).toBe(401);
    expect(res.body).toContain("state");
    expect(res.cookies.find((c) => c.name === "test_session")).toBeUndefined();
    expect(signIn.identities).toEqual([]);
  });

  it("refuses a callback carried to a browser that did not start the sign-in", async () => {
    const { location } = await start();
    const returnedTo = await signInAtProvider(provider, location, alice);

    const res = await callback(returnedTo, undefined);

    expect(res.statusCode).toBe(400);
    expect(res.body).toContain("not started in this browser");
    expect(signIn.identities).toEqual([]);
  });

  it("uses a callback once: the same code and handle again are refused", async () => {
    const { location, handle } = await start();
    const returnedTo = await signInAtProvider(provider, location, alice);
    expect((await callback(returnedTo, handle)).statusCode).toBe(303);

    const again = await callback(returnedTo, handle);

    expect(again.statusCode).toBe(400);
    expect(signIn.sessions).toHaveLength(1);
  });

  it("ignores a `next` that would leave this origin", async () => {
    const { location, handle } = await start("//evil.example/steal");
    const res = await callback(await signInAtProvider(provider, location, bob), handle);

    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/");
  });

  it("shows the provider's refusal as a 401 page naming it", async () => {
    const { location, handle } = await start();
    const authorization = new URL(location);
    const denied = new URL(CALLBACK);
    denied.searchParams.set("error", "access_denied");
    denied.searchParams.set("error_description", "End-User aborted interaction");
    denied.searchParams.set("state", authorization.searchParams.get("state") ?? "");
    denied.searchParams.set("iss", provider.issuer);

    const res = await callback(denied, handle);

    expect(res.statusCode).toBe(401);
    expect(res.headers["content-type"]).toContain("text/html");
    expect(res.body).toContain("access_denied");
  });
});

describe("landingPath", () => {
  it.each([
    ["/executions/1?x=2#n", "/executions/1?x=2#n"],
    ["//evil.example/x", "/"],
    ["/\\evil.example", "/"],
    ["https://evil.example/", "/"],
    ["javascript:alert(1)", "/"],
    ["executions", "/"],
    [undefined, "/"],
  ])("%s → %s", (next, expected) => {
    expect(landingPath(next)).toBe(expected);
  });
});

describe("CLI sign-in (device flow)", () => {
  const client = { ip: "203.0.113.9", userAgent: "drydock-cli" };

  it("is pending until the person approves at the provider, then gives an API key once", async () => {
    const login = createDeviceLogin({ config, signIn, db });
    const started = DeviceStartSchema.parse(await login.start(client));
    expect(new URL(started.verificationUri).origin).toBe(provider.issuer);
    expect(await login.poll(started.handle, client)).toEqual({ status: "pending" });

    await approveDeviceAtProvider(provider, started.verificationUriComplete ?? "", alice);
    const approved = DevicePollSchema.parse(await login.poll(started.handle, client));

    expect(approved).toEqual({
      status: "approved",
      apiKey: "ddk_key_of_user-alice",
      user: { id: "user-alice", name: alice.name },
    });
    expect(signIn.identities).toEqual([
      {
        issuer: provider.issuer,
        subject: "alice",
        email: alice.email,
        emailVerified: true,
        name: alice.name,
      },
    ]);
    expect(signIn.keys).toEqual([{ userId: "user-alice", name: cliKeyName(new Date()), client }]);
    expect(cliKeyName(new Date("2026-12-06T13:00:00Z"))).toBe("drydock login (2026-12-06)");
    // The key is shown once: the handle is spent.
    expect(await login.poll(started.handle, client)).toEqual({ status: "expired" });
    expect(signIn.keys).toHaveLength(1);
  });

  it("answers denied when the person refuses at the provider", async () => {
    const login = createDeviceLogin({ config, signIn, db });
    const started = await login.start(client);

    await approveDeviceAtProvider(provider, started.verificationUriComplete ?? "", bob, {
      approve: false,
    });

    expect(await login.poll(started.handle, client)).toEqual({ status: "denied" });
    expect(signIn.keys).toEqual([]);
  });

  it("answers expired for a handle it never gave", async () => {
    const login = createDeviceLogin({ config, signIn, db });
    expect(await login.poll("no-such-handle", client)).toEqual({ status: "expired" });
  });

  it("without a provider, says to sign in with an API key", async () => {
    const login = createDeviceLogin({ config: undefined, signIn, db });
    const refused = await login.start(client).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ kind: "PRECONDITION_FAILED" });
    expect((refused as AppError).message).toBe(
      "this server has no OpenID provider: sign in with an API key (`drydock login --api-key`)",
    );
  });
});
