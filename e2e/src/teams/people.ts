/**
 * A team on one `drydock up`: a real OpenID provider (the server's test fixture, `oidc-provider` with Alice and
 * Bob) configured on the stack, and each person signing in through the provider's own pages in Chromium as a
 * teammate does. A drydock that runs without a provider has only its local admin, and no procedure gives a
 * credential to anyone else: a second person needs a provider.
 */
import type { BrowserContext } from "playwright-core";
import { TRPCClientError } from "@trpc/client";
import { expect } from "vitest";

import { startOidcProvider } from "@drydock/server/testing/oidc-provider";
import type { TestOidcProvider, TestOidcUser } from "@drydock/server/testing/oidc-provider";

import { apiClient, freePort, startStack } from "../harness.js";
import type { ApiClient, Stack } from "../harness.js";

export interface TeamStack {
  stack: Stack;
  provider: TestOidcProvider;
  /** The provider's people, by first name. */
  alice: TestOidcUser;
  bob: TestOidcUser;
  /** Stops the provider (the stack is removed with `removeStack`). */
  closeProvider(): Promise<void>;
}

/**
 * `drydock up` with the test provider configured. The provider must know the console's callback before either
 * starts, so the stack gets a port chosen here; the relay takes any free port (`--relay-port 0`), since the one
 * after the API's may be some other socket's. A port taken between the choice and the start (three lanes share
 * this machine's ports) is chosen again, up to three times.
 */
export async function startTeamStack(env: Record<string, string> = {}): Promise<TeamStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startTeamStackOn(await freePort(), env);
    } catch (error) {
      if (attempt === 3 || !String(error).includes("is in use")) throw error;
    }
  }
}

async function startTeamStackOn(port: number, env: Record<string, string>): Promise<TeamStack> {
  const provider = await startOidcProvider({
    redirectUris: ["127.0.0.1", "localhost"].map(
      (host) => `http://${host}:${port}/auth/oidc/callback`,
    ),
  });
  const [alice, bob] = provider.users;
  if (!alice || !bob) throw new Error("the test provider has fewer than two people");
  try {
    const stack = await startStack({
      port,
      args: ["--relay-port", "0"],
      env: {
        DRYDOCK_OIDC_ISSUER: provider.issuer,
        DRYDOCK_OIDC_CLIENT_ID: provider.clientId,
        DRYDOCK_OIDC_CLIENT_SECRET: provider.clientSecret,
        DRYDOCK_OIDC_NAME: "Test provider",
        ...env,
      },
    });
    return { stack, provider, alice, bob, closeProvider: () => provider.close() };
  } catch (error) {
    await provider.close();
    throw error;
  }
}

/** One person signed in to the console, in a browser context of their own, and their API client. */
export interface SignedInPerson {
  user: TestOidcUser;
  /** Their user id on the Drydock server. */
  id: string;
  context: BrowserContext;
  /** Acts as them with the console's cookie (what their browser holds). */
  api: ApiClient;
}

/**
 * Signs `user` in as they would: the console's "Sign in with …" (`/auth/oidc/start`), the provider's login and
 * consent pages, back in the console. Their API client then carries the console's cookie, as their tab does.
 */
export async function signInThroughProvider(
  team: TeamStack,
  context: BrowserContext,
  user: TestOidcUser,
): Promise<SignedInPerson> {
  const { stack, provider } = team;
  const page = await context.newPage();
  await page.goto(`${stack.url}/auth/oidc/start?next=/`);
  await page.waitForURL((url) => url.origin === provider.issuer);
  await page.locator('input[name="email"]').fill(user.email);
  await page.locator('input[name="password"]').fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Consent is asked the first time only.
  await page.waitForURL(
    (url) => url.origin === new URL(stack.url).origin || url.pathname.startsWith("/interaction/"),
  );
  if (new URL(page.url()).origin === provider.issuer)
    await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL((url) => url.origin === new URL(stack.url).origin);
  const cookie = (await context.cookies(stack.url))
    .map(({ name, value }) => `${name}=${value}`)
    .join("; ");
  expect(cookie, `${user.email} has no console cookie after signing in`).not.toBe("");
  await page.close();
  const api = apiClient(stack.url, { cookie });
  const me = await api.auth.me.query();
  expect(me.user.email).toBe(user.email);
  expect(me.via).toBe("session");
  return { user, id: me.user.id, context, api };
}

/** The tRPC error code a call was refused with (FORBIDDEN, UNAUTHORIZED, …); fails if it was not refused. */
export async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof TRPCClientError) {
      const data = (error as TRPCClientError<never>).data as { code?: string } | undefined;
      return data?.code ?? error.message;
    }
    throw error;
  }
  throw new Error("the call was allowed");
}
