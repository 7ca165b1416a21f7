import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { LOCAL_PORT_COOKIE, openLocalPort, type LocalPort } from "./local-port.js";

/** What the stand-in for code-server saw of the last request. */
let seen: { url?: string; headers?: IncomingHttpHeaders } = {};
let dir: string;
let upstream: Server;
let guard: LocalPort;
let port: number;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

function get(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path, headers: { host: `127.0.0.1:${port}`, ...headers } },
        (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

/** Sends a raw upgrade request and resolves with the first bytes the port answers. */
function upgrade(headers: string) {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", reject);
    socket.once("data", (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString());
    });
    socket.write(
      `GET /socket HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${headers}\r\n`,
    );
  });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-local-port-"));
  const socketPath = join(dir, "code-server.sock");
  seen = {};
  upstream = createServer((req, res) => {
    seen = { url: req.url, headers: req.headers };
    res.end("the IDE");
  });
  upstream.on("upgrade", (req, socket) => {
    seen = { url: req.url, headers: req.headers };
    socket.end(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
  });
  await new Promise<void>((resolve) => upstream.listen(socketPath, resolve));
  port = await freePort();
  guard = await openLocalPort({ port, socketPath, key: "k".repeat(48) });
});

afterEach(async () => {
  await guard.close();
  await new Promise((resolve) => upstream.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe("openLocalPort", () => {
  it("signs a browser in with the key once, then forwards its requests without the guard's cookie", async () => {
    expect(guard.signInUrl).toBe(
      `http://127.0.0.1:${port}/__drydock/sign-in?key=${"k".repeat(48)}`,
    );
    const signIn = await get(`/__drydock/sign-in?key=${"k".repeat(48)}`);
    expect(signIn.status).toBe(303);
    expect(signIn.headers.location).toBe("/");
    const cookie = signIn.headers["set-cookie"]?.[0] ?? "";
    expect(cookie).toContain("HttpOnly; SameSite=Strict");

    const page = await get("/some/page?x=1", {
      cookie: `other=1; ${cookie.split(";")[0] ?? ""}`,
    });
    expect(page.status).toBe(200);
    expect(page.body).toBe("the IDE");
    expect(seen.url).toBe("/some/page?x=1");
    expect(seen.headers?.cookie).toBe("other=1");
    expect(guard.activity().opened).toBeGreaterThanOrEqual(2);
  });

  it("refuses a wrong key, a foreign Host or Origin, and a browser that has not signed in", async () => {
    expect((await get("/__drydock/sign-in?key=nope")).status).toBe(401);
    expect((await get("/", { host: `rebound.example:${port}` })).status).toBe(403);
    const cookie = `${LOCAL_PORT_COOKIE}=${"k".repeat(48)}`;
    expect((await get("/", { cookie, origin: "http://evil.example" })).status).toBe(403);
    const anonymous = await get("/");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toContain("sign in with the link in the task's log");
    expect(seen.url).toBeUndefined();
  });

  it("forwards a signed-in WebSocket upgrade of its own origin and refuses one without an Origin", async () => {
    const host = `127.0.0.1:${port}`;
    const cookie = `${LOCAL_PORT_COOKIE}=${"k".repeat(48)}`;
    expect(await upgrade(`Host: ${host}\r\nCookie: ${cookie}\r\n`)).toMatch(/^HTTP\/1.1 403 /);
    const answer = await upgrade(
      `Host: ${host}\r\nOrigin: http://${host}\r\nCookie: ${cookie}\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 101 /);
    expect(seen.url).toBe("/socket");
    expect(seen.headers?.cookie).toBeUndefined();
  });

  it("says when the port is taken", async () => {
    await expect(openLocalPort({ port, socketPath: join(dir, "other.sock") })).rejects.toThrow(
      `vscode({ port: ${port} }): 127.0.0.1:${port} is already in use on this machine`,
    );
  });
});
