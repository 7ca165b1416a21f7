import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { CONSOLE_COOKIE, CONSOLE_SECURITY_HEADERS, ConsoleSessions } from "./console.js";
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
      await get(`/?token=${server.token}`),
      await get("/assets/nothing.js", { accept: "*/*" }),
      await fetch(`${server.url}/login`, {
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

  it("signs in from a printed URL: sets an HttpOnly cookie and redirects to the same page without the token", async () => {
    const signedIn = await get(`/executions/x1?node=n0&token=${server.token}`);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/executions/x1?node=n0");
    const cookie = sessionCookie(signedIn);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Max-Age=604800/);
    expect(await (await projects({ cookie: cookieHeader(cookie) })).json()).toMatchObject({
      result: { data: [{ id: "default" }] },
    });

    // A wrong token signs nobody in, and still takes the token out of the address bar.
    const wrong = await get("/?token=not-the-token");
    expect(wrong.status).toBe(303);
    expect(wrong.headers.get("location")).toBe("/");
    expect(sessionCookie(wrong)).toBeUndefined();
  });

  it("signs in with POST /login, refusing a wrong or missing token by name; the cookie then works over HTTP and the WebSocket", async () => {
    const post = (body: unknown) =>
      fetch(`${server.url}/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const wrong = await post({ token: "nope" });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toMatch(
      /not this server's token/,
    );
    expect(sessionCookie(wrong)).toBeUndefined();
    const empty = await post({});
    expect(empty.status).toBe(400);

    const ok = await post({ token: server.token });
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

    const out = await fetch(`${server.url}/logout`, {
      method: "POST",
      headers: { cookie },
      redirect: "manual",
    });
    expect(out.status).toBe(303);
    expect(sessionCookie(out)).toMatch(/Expires=Thu, 01 Jan 1970/);
  });
});

describe("ConsoleSessions", () => {
  it("issues a cookie value only for the user token, which lasts seven days", () => {
    const sessions = new ConsoleSessions("s".repeat(64), "user-token", (t) => t === "user-token");
    expect(sessions.signIn("other")).toBeUndefined();
    const value = sessions.signIn("user-token", 1_000) ?? "";
    expect(value).toBe(`local.${1_000 + 7 * 24 * 3_600}`);
    expect(sessions.userOf(value, 1_001)).toBe("local");
    expect(sessions.userOf(value, 1_000 + 7 * 24 * 3_600)).toBeUndefined();
    expect(sessions.userOf("admin.99999999999", 0)).toBeUndefined();
  });

  it("derives its signing key from the user token, so a new token signs every browser out", () => {
    const a = new ConsoleSessions("s".repeat(64), "token-a", () => true);
    const b = new ConsoleSessions("s".repeat(64), "token-b", () => true);
    const value = a.signIn("token-a") ?? "";
    const header = (s: ConsoleSessions) => ({
      cookie: `${CONSOLE_COOKIE}=${encodeURIComponent(s.signer.sign(value))}`,
    });
    expect(a.userOfRequest(header(a))).toBe("local");
    expect(b.userOfRequest(header(a))).toBeUndefined();
  });
});
