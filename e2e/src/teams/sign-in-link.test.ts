/**
 * Signing in to the console of a `drydock up` with no OpenID provider: `up` prints a one-time sign-in link,
 * which lands a browser in the signed-in console; the long-lived token appears in no URL (printed, navigated or
 * requested) nor in the page; the link is refused when used again, and nothing the browser's history holds
 * signs anyone in.
 */
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drydock, launchChromium, startStack, tearDown } from "../harness.js";
import type { Stack } from "../harness.js";
import { printedSignInLink } from "../sign-in.js";

let stack: Stack | undefined;
let browser: Browser | undefined;
/** Every URL the signed-in browser navigated to (any frame) and requested. */
const navigated = new Set<string>();
const requested = new Set<string>();

beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
});

afterAll(() => tearDown({ browser, stack }));

const running = (): Stack => {
  if (!stack) throw new Error("the stack did not start");
  return stack;
};

/** Every http(s) URL in a text. */
const urlsIn = (text: string) => text.match(/https?:\/\/\S+/g) ?? [];

/** The status of `auth.me` asked from a page of `context` on the console: 200 signed in, 401 not. */
async function meStatus(context: BrowserContext): Promise<number> {
  const page = await context.newPage();
  await page.goto(`${running().url}/healthz`);
  const status = await page.evaluate(async () => (await fetch("/trpc/auth.me")).status);
  await page.close();
  return status;
}

describe("the one-time sign-in link", () => {
  it("is what `drydock up` prints, and no URL it prints holds the long-lived token", () => {
    const { token } = running();
    const output = running().output();
    expect(token.length).toBeGreaterThan(16);
    expect(printedSignInLink(output), output).toBeDefined();
    const urls = urlsIn(output);
    expect(urls.length).toBeGreaterThan(2);
    for (const url of urls) expect(url).not.toContain(token);
    expect(output).not.toContain(token);
  });

  it("lands in the signed-in console; the token is in no URL navigated or requested, nor in the page", async () => {
    const { token, url } = running();
    const link = printedSignInLink(running().output()) ?? "";
    const context = await (browser as Browser).newContext();
    context.on("request", (request) => requested.add(request.url()));
    const page = await context.newPage();
    page.on("framenavigated", (frame) => navigated.add(frame.url()));
    await page.goto(link);
    await page.getByRole("heading", { name: "No executions yet" }).waitFor();
    expect(new URL(page.url()).origin).toBe(new URL(url).origin);
    // The code left the address bar (and is spent anyway).
    expect(new URL(page.url()).searchParams.has("code")).toBe(false);
    expect(await meStatus(context)).toBe(200);
    // Around the console as a person would, so that the history has more than one page.
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Workflows" })
      .click();
    await page.waitForURL(/\/workflows/);
    await page.goBack();
    await page.getByRole("heading", { name: "No executions yet" }).waitFor();

    expect(navigated.size).toBeGreaterThan(1);
    for (const seen of [...navigated, ...requested]) expect(seen).not.toContain(token);
    expect(await page.content()).not.toContain(token);
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(token);
    for (const cookie of await context.cookies()) expect(cookie.value).not.toContain(token);
    await context.close();
  });

  it("is refused when used again, and no URL of the signed-in browser's history signs anyone in", async () => {
    const link = printedSignInLink(running().output()) ?? "";
    const reuse = await (browser as Browser).newContext();
    const page = await reuse.newPage();
    const answer = await page.goto(link);
    expect(answer?.status()).toBe(401);
    expect(await page.textContent("body")).toMatch(/drydock console/);
    expect(await reuse.cookies()).toEqual([]);
    expect(await meStatus(reuse)).toBe(401);
    await reuse.close();

    // Each page the browser navigated to, opened in a browser that was never signed in: still signed out.
    for (const url of navigated) {
      if (!url.startsWith("http")) continue;
      const fresh = await (browser as Browser).newContext();
      await (await fresh.newPage()).goto(url);
      expect(await meStatus(fresh), url).toBe(401);
      await fresh.close();
    }
    // And no URL it requested sets a cookie for whoever asks it again.
    for (const url of requested) {
      if (!url.startsWith(running().url)) continue;
      const again = await fetch(url, { redirect: "manual" });
      expect(again.headers.get("set-cookie"), url).toBeNull();
    }
  });

  it("`drydock console` prints another one-time link, which signs in; sign-out revokes that browser's session", async () => {
    const printed = await drydock(["console"], running().env);
    expect(printed.code, printed.stderr).toBe(0);
    const link = /(http:\/\/\S+\/auth\/sign-in\?code=\S+)/.exec(printed.stdout)?.[1] ?? "";
    expect(link).not.toBe("");
    expect(printed.stdout + printed.stderr).not.toContain(running().token);
    const context = await (browser as Browser).newContext();
    await (await context.newPage()).goto(link);
    expect(await meStatus(context)).toBe(200);
    const cookie = (await context.cookies(running().url))
      .map(({ name, value }) => `${name}=${value}`)
      .join("; ");
    // Sign-out from the console's page (a same-origin POST, as its button sends it).
    const page = await context.newPage();
    await page.goto(`${running().url}/healthz`);
    await page.evaluate(async () => {
      await fetch("/auth/sign-out", { method: "POST" });
    });
    expect(await meStatus(context)).toBe(401);
    const stale = await fetch(`${running().url}/trpc/auth.me`, { headers: { cookie } });
    expect(stale.status).toBe(401);
    await context.close();
  });
});
