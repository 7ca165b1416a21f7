/**
 * Signing in to the console with OpenID Connect, in Chromium, against a real provider (`oidc-provider`, started
 * here with two people): each signs in through the provider's own login page and lands in the console as
 * themselves; signing out ends the session on the server, so the old cookie is refused afterwards.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { startServer } from "@drydock/server";
import type { RunningServer } from "@drydock/server";
import { startOidcProvider, TEST_OIDC_USERS } from "@drydock/server/testing/oidc-provider";
import type { TestOidcProvider } from "@drydock/server/testing/oidc-provider";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { freePort, launchChromium } from "./harness.js";

const PROVIDER_NAME = "Test provider";
/** The console's session cookie (HttpOnly; the server keeps the session it names). */
const SESSION_COOKIE = "drydock_console";

let dataDir: string;
let provider: TestOidcProvider | undefined;
let server: RunningServer | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "drydock-e2e-oidc-"));
  // The embedded PostgreSQL runs as its own user, which must reach the data directory inside.
  await chmod(dataDir, 0o755);
  // The provider registers the console's callback, so the server's port is chosen first.
  const port = await freePort();
  provider = await startOidcProvider({
    redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`],
  });
  server = await startServer({
    dataDir: join(dataDir, "data"),
    host: "127.0.0.1",
    port,
    logLevel: "warn",
    oidc: {
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      name: PROVIDER_NAME,
      adminEmails: ["alice@example.com"],
    },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await provider?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** `auth.me` over HTTP with only the given session cookie: its status, and whom it names. */
async function me(sessionCookie: string) {
  const res = await fetch(`${server?.url}/trpc/auth.me`, {
    headers: { cookie: `${SESSION_COOKIE}=${sessionCookie}` },
  });
  const body = (await res.json()) as {
    result?: { data?: { user?: { name?: string; email?: string }; via?: string } };
  };
  return { status: res.status, user: body.result?.data?.user, via: body.result?.data?.via };
}

describe("OpenID Connect sign-in in the console", () => {
  it.each(TEST_OIDC_USERS.map((user) => [user.email, user] as const))(
    "%s signs in at the provider, lands in the console, and signing out revokes the session",
    async (_email, user) => {
      const context = await browser!.newContext();
      const page = await context.newPage();
      const consoleOrigin = new URL(server!.url).origin;

      await page.goto(`${server!.url}/`);
      await page.getByRole("link", { name: `Sign in with ${PROVIDER_NAME}` }).click();
      await page.waitForURL((url) => url.origin === provider!.issuer);
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Password").fill(user.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Allow" }).click();
      await page.waitForURL((url) => url.origin === consoleOrigin);

      await expect.poll(() => page.locator(".signed-in-name").textContent()).toBe(user.name);
      const session = (await context.cookies(server!.url)).find((c) => c.name === SESSION_COOKIE);
      expect(session?.httpOnly).toBe(true);
      const signedIn = await me(session?.value ?? "");
      expect(signedIn).toMatchObject({ status: 200, via: "session" });
      expect(signedIn.user).toMatchObject({ name: user.name, email: user.email });
      // The provider's code and state stopped at the callback: the console's address holds neither.
      expect(page.url()).not.toMatch(/code=|state=/);

      const signedOut = page.waitForResponse((r) => new URL(r.url()).pathname === "/auth/sign-out");
      await page.getByRole("button", { name: "Sign out" }).click();
      expect((await signedOut).status(), "POST /auth/sign-out from the console's form").toBe(303);
      await page.getByRole("heading", { name: "Sign in to Drydock" }).waitFor();
      expect((await me(session?.value ?? "")).status).toBe(401);
      await context.close();
    },
  );
});
