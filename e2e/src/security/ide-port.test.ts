/**
 * `vscode({ port })` used to put an unauthenticated code-server on 127.0.0.1:<port> that answered any Host:
 * another local user read /etc/shadow and the server's secrets.json through `/vscode-remote-resource`, and a
 * WebSocket with a foreign Origin was accepted (DNS rebinding from any web page). Now the port asks what the
 * relay asks: the right Host, no foreign Origin, and a sign-in from the link in the task's log.
 */
import { execFile } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";

import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  drydock,
  fixture,
  freePort,
  launchChromium,
  startStack,
  tearDown,
  waitFor,
} from "../harness.js";
import type { Stack } from "../harness.js";

const run = promisify(execFile);
let stack: Stack;
let executionId: string;
let port: number;
let signInUrl: string;
let browser: Browser | undefined;

/** A GET or an upgrade on the IDE's port, as a raw client sends it: status and body. */
function probe(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: "" });
    });
    req.on("error", reject);
    req.end();
  });
}

const websocket = {
  connection: "Upgrade",
  upgrade: "websocket",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
};

beforeAll(async () => {
  stack = await startStack();
  port = await freePort();
  const launched = await drydock(
    ["run", "--remote", fixture("interactive/port.ts"), "pinned_port"],
    { ...stack.env, DRYDOCK_E2E_IDE_PORT: String(port) },
  );
  expect(launched.code, launched.stderr).toBe(0);
  executionId =
    (launched.stdout + launched.stderr).match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";
  await waitFor(
    "the interactive session to be READY",
    async () => {
      const { execution, nodes } = await stack.api.executions.get.query({ id: executionId });
      if (execution.status !== "RUNNING")
        throw new Error(
          `the execution ended ${execution.status}: ${JSON.stringify(execution.error)}`,
        );
      return nodes[0]?.attempts.at(-1)?.session?.state === "READY" ? true : undefined;
    },
    90_000,
  );
  const { nodes } = await stack.api.executions.get.query({ id: executionId });
  const attemptId = nodes[0]?.attempts.at(-1)?.id ?? "";
  // The agent's log reaches the server in batches: the link may land a moment after READY.
  signInUrl = await waitFor(
    "the sign-in link in the task's log",
    async () => {
      const { text } = await stack.api.executions.logs.query({ attemptId });
      return /signed in by this link: (\S+)/.exec(text)?.[1];
    },
    10_000,
  );
});

afterAll(() => tearDown({ browser, executionId, stack }));

describe("the IDE on a pinned port", () => {
  it("refuses another local user who reads files through /vscode-remote-resource", async () => {
    const script = `
      const http = require("node:http");
      const get = (path) => new Promise((resolve, reject) => http.get({ host: "127.0.0.1", port: ${port}, path }, (res) => {
        let body = ""; res.on("data", (d) => (body += d)); res.on("end", () => resolve({ status: res.statusCode, body }));
      }).on("error", reject));
      Promise.all(process.argv.slice(1).map((file) => get("/vscode-remote-resource?path=" + encodeURIComponent(file))))
        .then((answers) => console.log(JSON.stringify(answers)));`;
    const { stdout } = await run("setpriv", [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      process.execPath,
      "-e",
      script,
      "/etc/shadow",
      join(stack.dataDir, "secrets.json"),
      "/etc/hostname",
    ]);
    const answers = JSON.parse(stdout) as { status: number; body: string }[];
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.body).not.toMatch(/root:|"token"/);
    }
  });

  it("refuses a DNS-rebound page: a foreign Host, and a WebSocket with a foreign Origin even when signed in", async () => {
    expect((await probe("/", { host: `rebound.example:${port}` })).status).toBe(403);
    expect(
      (
        await probe("/", {
          host: `rebound.example:${port}`,
          ...websocket,
          origin: `http://rebound.example:${port}`,
        })
      ).status,
    ).toBe(403);
    const cookie = await signedInCookie();
    expect(
      (
        await probe("/", {
          host: `127.0.0.1:${port}`,
          cookie,
          ...websocket,
          origin: `http://rebound.example:${port}`,
        })
      ).status,
    ).toBe(403);
    expect((await probe("/", { host: `127.0.0.1:${port}`, cookie, ...websocket })).status).toBe(
      403,
    );
  });

  it("refuses a sign-in link with another key, and serves the owner who signed in", async () => {
    const wrong = new URL(signInUrl);
    wrong.searchParams.set("key", "0".repeat(48));
    expect(
      (await probe(`${wrong.pathname}${wrong.search}`, { host: `127.0.0.1:${port}` })).status,
    ).toBe(401);
    const cookie = await signedInCookie();
    expect((await probe("/healthz", { host: `127.0.0.1:${port}`, cookie })).status).toBe(200);

    browser = await launchChromium();
    const page = await (await browser.newContext()).newPage();
    await page.goto(signInUrl);
    await page.waitForSelector(".monaco-workbench .statusbar", { timeout: 90_000 });
    expect(new URL(page.url()).origin).toBe(`http://127.0.0.1:${port}`);
    expect(await page.evaluate<string>("document.cookie")).not.toContain("drydock_port");
    expect(await page.locator("text=/Cannot reconnect|connection.*lost/i").count()).toBe(0);
  });
});

async function signedInCookie(): Promise<string> {
  expect(signInUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/`));
  const url = new URL(signInUrl);
  const answer = await new Promise<string[]>((resolve, reject) =>
    request(
      {
        host: "127.0.0.1",
        port,
        path: `${url.pathname}${url.search}`,
        headers: { host: `127.0.0.1:${port}` },
      },
      (res) => {
        res.resume();
        resolve(res.headers["set-cookie"] ?? []);
      },
    )
      .on("error", reject)
      .end(),
  );
  return answer.map((c) => c.split(";")[0]).join("; ");
}
