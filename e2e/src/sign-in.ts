/**
 * Signing a browser into the console as a person does: with a one-time sign-in link (what `drydock up` and
 * `drydock console` print), never with the long-lived token in a URL. A test asks the API for a fresh link with
 * its credential (`auth.signInCode`) and opens it.
 */
import type { Page } from "playwright-core";

import type { ApiClient } from "./harness.js";

/** The console's sign-in line in `drydock up`'s output: `console: <one-time sign-in link>`. */
export const PRINTED_SIGN_IN_LINK = /console:\s+(http:\/\/\S+\/auth\/sign-in\?code=\S+)/;

/** The one-time sign-in link a `drydock up` (or `pnpm start`) printed, if it printed one yet. */
export function printedSignInLink(output: string): string | undefined {
  return PRINTED_SIGN_IN_LINK.exec(output)?.[1];
}

/**
 * Signs `page`'s browser context into the console as whoever `api`'s credential names: a fresh one-time link
 * from `auth.signInCode`, opened. Resolves once the link answered (the console then loads signed in); returns the
 * link, spent.
 */
export async function signInPage(page: Page, stack: { api: ApiClient }): Promise<string> {
  const { url } = await stack.api.auth.signInCode.mutate();
  const answer = await page.goto(url);
  if (!answer?.ok())
    throw new Error(
      `the sign-in link ${url} answered ${answer?.status()}: ${await page.content()}`,
    );
  return url;
}
