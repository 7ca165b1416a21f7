import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";

import { openTunnel, type TunnelClient } from "@drydock/tunnel";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startCodeServer, type CodeServer } from "./code-server.js";
import { drydock, fixture, removeStack, startStack, waitFor } from "./harness.js";
import type { Stack } from "./harness.js";

interface Handoff {
  token: string;
  sessionId: string;
  tunnel: { relayUrl: string; host: string };
}

let stack: Stack;
let handoffDir: string;
let session: Handoff;
let ide: CodeServer;
let tunnel: TunnelClient;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack();
  handoffDir = await mkdtemp(join(tmpdir(), "drydock-e2e-ide-"));
  // A running attempt opens its interactive session and hands us its agent token (the interactive-tasks
  // issue moves this into the agent itself).
  const launched = await drydock(["run", "--remote", fixture("ide-hold.ts"), "ide_hold", "--handoff", handoffDir], stack.env);
  expect(launched.code, launched.stderr).toBe(0);
  const executionId = (launched.stdout + launched.stderr).match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";
  session = await waitFor("the task to open its session", async () => {
    if (existsSync(join(handoffDir, "session.json"))) return JSON.parse(await readFile(join(handoffDir, "session.json"), "utf8")) as Handoff;
    const { execution } = await stack.api.executions.get.query({ id: executionId });
    if (execution.status === "FAILED") throw new Error(`the task failed: ${JSON.stringify(execution.error)}`);
    return undefined;
  });
  ide = await startCodeServer(handoffDir);
  tunnel = openTunnel({ relayUrl: session.tunnel.relayUrl, host: session.tunnel.host, token: session.token, target: { host: "127.0.0.1", port: ide.port } });
  await tunnel.whenConnected();
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await tunnel?.close();
  await ide?.stop();
  if (handoffDir) await writeFile(join(handoffDir, "done"), "");
  if (stack) await removeStack(stack);
  if (handoffDir) await rm(handoffDir, { recursive: true, force: true });
});

describe("code-server through the relay", () => {
  it("loads the workbench in Chromium from a one-time ticket, on the session's own origin", async () => {
    const ticket = await stack.api.sessions.ideTicket.mutate({ sessionId: session.sessionId });
    const sessionOrigin = new URL(ticket.url).origin;
    expect(new URL(ticket.url).hostname).toBe(`${session.sessionId}.localhost`);
    expect(sessionOrigin).not.toBe(new URL(stack.url).origin);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(ticket.url);
    await page.waitForSelector(".monaco-workbench", { timeout: 90_000 });
    expect(new URL(page.url()).origin).toBe(sessionOrigin);
    // The sign-in cookie is HttpOnly: the IDE's own JavaScript cannot read it.
    expect(await page.evaluate<string>("document.cookie")).not.toContain("drydock_ide");
    const cookies = await context.cookies(sessionOrigin);
    expect(cookies.find((c) => c.name === "drydock_ide")).toMatchObject({ httpOnly: true, sameSite: "Lax" });
    // code-server's WebSocket came up through the tunnel: the workbench shows no connection error.
    await page.waitForSelector(".statusbar", { timeout: 30_000 });
    expect(await page.locator("text=/Cannot reconnect|connection.*lost/i").count()).toBe(0);
    await context.close();
  });

  it("refuses the same ticket a second time, and a browser without a cookie", async () => {
    const ticket = await stack.api.sessions.ideTicket.mutate({ sessionId: session.sessionId });
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await page.goto(ticket.url);
    expect(first?.status()).toBe(200);
    const again = await (await browser.newContext()).newPage();
    const reused = await again.goto(ticket.url);
    expect(reused?.status()).toBe(403);
    expect(await again.textContent("body")).toMatch(/already been used/);
    const bare = await again.goto(new URL(ticket.url).origin + "/");
    expect(bare?.status()).toBe(401);
    await context.close();
  });

  it("leaves code-server reachable on loopback only", async () => {
    const listening = (await readFile("/proc/net/tcp", "utf8"))
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[3] === "0A" && parseInt(f[1]?.split(":")[1] ?? "", 16) === ide.port)
      .map((f) => f[1]?.split(":")[0]);
    expect(listening).toEqual(["0100007F"]); // 127.0.0.1, and nothing else
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal);
    if (outside) {
      const refused = await new Promise<string>((resolve) => {
        const socket = connect(ide.port, outside.address);
        socket.on("connect", () => {
          socket.destroy();
          resolve("connected");
        });
        socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
      });
      expect(refused).toBe("ECONNREFUSED");
    }
  });
});
