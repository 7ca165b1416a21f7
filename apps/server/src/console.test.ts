import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { CONSOLE_COOKIE, CONSOLE_SECURITY_HEADERS } from "./console.js";
import { readServerConfig } from "./env.js";
import { startServer } from "./server.js";
import type { RunningServer } from "./server.js";

let dir: string;
let server: RunningServer;
const INDEX = "<!doctype html><title>Drydock console</title><div id=root></div>";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-console-test-"));
  await chmod(dir, 0o755);
  const dist = join(dir, "dist");
  await mkdir(join(dist, "assets"), { recursive: true });
  await writeFile(join(dist, "index.html"), INDEX);
  await writeFile(join(dist, "assets", "index-abc123.js"), "console.log('drydock')");
  server = await startServer(
    readServerConfig({
      DRYDOCK_DATA_DIR: join(dir, "data"),
      DRYDOCK_PORT: "0",
      DRYDOCK_LOG_LEVEL: "silent",
      DRYDOCK_CONSOLE_DIR: dist,
    }),
  );
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    redirect: "manual",
    headers: { accept: "text/html", ...headers },
  });
const sessionCookie = (response: Response) =>
  response.headers.getSetCookie().find((c) => c.startsWith(`${CONSOLE_COOKIE}=`));
const cookieHeader = (setCookie: string | undefined) => setCookie?.split(";")[0] ?? "";
const projects = (headers: Record<string, string>) =>
  fetch(`${server.url}/trpc/projects.list`, { headers });

/** One query over the tRPC WebSocket, as the console's subscriptions travel: its result, or its error code. */
function overWebSocket(headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/trpc`, { headers });
    ws.on("open", () =>
      ws.send(JSON.stringify({ id: 1, method: "query", params: { path: "projects.list" } })),
    );
    ws.on("message", (data: Buffer) => {
      const reply = JSON.parse(data.toString()) as {
        id?: number;
        result?: { data: { id: string }[] };
        error?: { data: { code: string } };
      };
      if (reply.id !== 1) return;
      ws.close();
      resolve(
        reply.error ? reply.error.data.code : (reply.result?.data.map((p) => p.id).join(",") ?? ""),
      );
    });
    ws.on("error", reject);
  });
}

describe("the console, served and signed in to by the server", () => {
  it("serves the build at / and any client route, hashed assets as immutable, and JSON 404s to API clients", async () => {
    for (const path of ["/", "/executions/x123?node=n0", "/workflows/wf"]) {
      const page = await get(path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get("cache-control"), path).toBe("no-cache");
      expect(await page.text()).toBe(INDEX);
    }
    const asset = await get("/assets/index-abc123.js", { accept: "*/*" });
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await asset.text()).toBe("console.log('drydock')");
    const missing = await get("/assets/nothing.js", { accept: "*/*" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: "no route for GET /assets/nothing.js" });
  });

  it("sends its Content-Security-Policy, frame-ancestors 'none' and Referrer-Policy: no-referrer on every console answer", async () => {
    const csp = CONSOLE_SECURITY_HEADERS["content-security-policy"] ?? "";
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toMatch(/script-src 'self' 'unsafe-eval'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline/);
    const answers = [
      await get("/"),
      await get("/executions/x1"),
      await get("/assets/index-abc123.js", { accept: "*/*" }),
      await get(
        `/auth/sign-in?code=${new URL((await server.signInLink()).url).searchParams.get("code")}`,
      ),
      await get("/auth/sign-in?code=spent"),
      await get("/assets/nothing.js", { accept: "*/*" }),
      await fetch(`${server.url}/auth/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }),
    ];
    for (const answer of answers) {
      expect(answer.headers.get("content-security-policy"), answer.url).toBe(csp);
      expect(answer.headers.get("referrer-policy"), answer.url).toBe("no-referrer");
      expect(answer.headers.get("x-frame-options"), answer.url).toBe("DENY");
    }
  });

  it("signs in from a printed one-time link: sets an HttpOnly cookie and lands on / ; the link works once", async () => {
    const link = await server.signInLink();
    expect(link.url).toMatch(new RegExp(`^${server.url}/auth/sign-in\\?code=[\\w-]{40,}$`));
    expect(link.url).not.toContain(server.token);
    expect(new Date(link.expiresAt).getTime() - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(server.consoleUrl).toBe(server.url);

    const signedIn = await get(link.url.slice(server.url.length));
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/");
    const cookie = sessionCookie(signedIn);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Max-Age=604800/);
    expect(cookie).not.toContain(server.token);
    expect(await (await projects({ cookie: cookieHeader(cookie) })).json()).toMatchObject({
      result: { data: [{ id: "default" }] },
    });

    // Spent: the same link signs nobody in again, and says how to get a new one.
    const again = await get(link.url.slice(server.url.length));
    expect(again.status).toBe(401);
    expect(sessionCookie(again)).toBeUndefined();
    expect(await again.text()).toMatch(/drydock console/);
    // The long-lived token is no sign-in code, and no longer signs in from a URL or a form.
    expect((await get(`/auth/sign-in?code=${server.token}`)).status).toBe(401);
    expect(sessionCookie(await get(`/?token=${server.token}`))).toBeUndefined();
    const login = await fetch(`${server.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: server.token }),
    });
    expect(login.status).toBe(404);

    // A link may land on a page of the console (`drydock up --launch`), never on another site.
    const toPage = await server.signInLink("/executions/x1?node=n0");
    const landed = await get(toPage.url.slice(server.url.length));
    expect(landed.headers.get("location")).toBe("/executions/x1?node=n0");
    const away = new URL((await server.signInLink()).url);
    away.searchParams.set("next", "//evil.example/x");
    expect((await get(`${away.pathname}${away.search}`)).headers.get("location")).toBe("/");
  });

  it("signs in with POST /auth/sign-in; the cookie works over HTTP and the WebSocket; sign-out revokes it", async () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/auth/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    const wrong = await post({ code: "nope" });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toMatch(/drydock console/);
    expect(sessionCookie(wrong)).toBeUndefined();
    expect((await post({})).status).toBe(400);
    const code = () => server.signInLink().then((l) => new URL(l.url).searchParams.get("code"));
    // Another site's page cannot sign the browser in (login CSRF).
    expect((await post({ code: await code() }, { origin: "http://evil.example" })).status).toBe(
      403,
    );

    const ok = await post({ code: await code() });
    expect(ok.status).toBe(204);
    const cookie = cookieHeader(sessionCookie(ok));
    expect((await projects({ cookie })).status).toBe(200);
    expect(await overWebSocket({ cookie, origin: server.url })).toBe("default");

    // Nothing else counts: no cookie, a forged one, or the right one sent by another site's page.
    expect((await projects({})).status).toBe(401);
    expect((await projects({ cookie: `${CONSOLE_COOKIE}=local.99999999999` })).status).toBe(401);
    expect(
      (await projects({ cookie: cookie.replace(/.$/, (c) => (c === "A" ? "B" : "A")) })).status,
    ).toBe(401);
    expect((await projects({ cookie, origin: "http://evil.example" })).status).toBe(401);
    expect(await overWebSocket({ cookie, origin: "http://evil.example" })).toBe("UNAUTHORIZED");
    expect(await overWebSocket({ origin: server.url })).toBe("UNAUTHORIZED");

    // The Sign out button is a form post: urlencoded, and `Origin: null` (the console sends no Referer), so
    // the browser's Sec-Fetch-Site decides; another site's form is refused and signs nobody out.
    const signOut = (site: string) =>
      fetch(`${server.url}/auth/sign-out`, {
        method: "POST",
        headers: {
          cookie,
          origin: "null",
          "sec-fetch-site": site,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "",
        redirect: "manual",
      });
    expect((await signOut("cross-site")).status).toBe(403);
    expect((await projects({ cookie })).status).toBe(200);
    const out = await signOut("same-origin");
    expect(out.status).toBe(303);
    expect(sessionCookie(out)).toMatch(/Expires=Thu, 01 Jan 1970/);
    // The session is revoked on the server: the old cookie, replayed, is refused.
    expect((await projects({ cookie })).status).toBe(401);
    expect(await overWebSocket({ cookie, origin: server.url })).toBe("UNAUTHORIZED");
  });
});
