import { existsSync } from "node:fs";
import { readdir, readFile, readlink, stat } from "node:fs/promises";
import { dirname } from "node:path";

import type { InteractiveSession } from "@drydock/contracts";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchChromium, processTable, startStack, tearDown, waitFor } from "./harness.js";
import type { Stack } from "./harness.js";
import { launchInteractivePipeline, readySession } from "./interactive-pipeline.js";

let stack: Stack;
let executionId: string;
let session: InteractiveSession;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack();
  executionId = await launchInteractivePipeline(stack);
  session = await readySession(stack, executionId);
  browser = await launchChromium();
});

afterAll(() => tearDown({ browser, executionId, stack }));

describe("code-server through the relay", () => {
  it("loads the workbench in Chromium from a one-time ticket, on the session's own origin", async () => {
    const ticket = await stack.api.sessions.ideTicket.mutate({ sessionId: session.id });
    const sessionOrigin = new URL(ticket.url).origin;
    expect(new URL(ticket.url).hostname).toBe(`${session.id}.localhost`);
    expect(sessionOrigin).not.toBe(new URL(stack.url).origin);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(ticket.url);
    await page.waitForSelector(".monaco-workbench", { timeout: 90_000 });
    expect(new URL(page.url()).origin).toBe(sessionOrigin);
    // The sign-in cookie is HttpOnly: the IDE's own JavaScript cannot read it.
    expect(await page.evaluate<string>("document.cookie")).not.toContain("drydock_ide");
    const cookies = await context.cookies(sessionOrigin);
    expect(cookies.find((c) => c.name === "drydock_ide")).toMatchObject({
      httpOnly: true,
      sameSite: "Lax",
    });
    // code-server's WebSocket came up through the tunnel: the workbench shows no connection error.
    await page.waitForSelector(".statusbar", { timeout: 30_000 });
    expect(await page.locator("text=/Cannot reconnect|connection.*lost/i").count()).toBe(0);
    await context.close();
  });

  it("refuses the same ticket a second time, and a browser without a cookie", async () => {
    const ticket = await stack.api.sessions.ideTicket.mutate({ sessionId: session.id });
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

  it("leaves code-server on its Unix socket only: no TCP port of it listens anywhere", async () => {
    // Every listening TCP socket on the machine, by inode…
    const listening = new Set<string>();
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      for (const f of (await readFile(table, "utf8").catch(() => ""))
        .split("\n")
        .slice(1)
        .map((line) => line.trim().split(/\s+/))) {
        if (f[3] === "0A" && f[9]) listening.add(f[9]);
      }
    }
    // …and every socket code-server's processes hold.
    const ides = (await processTable()).filter((p) => p.cmdline.includes("code-server"));
    expect(ides.length).toBeGreaterThan(0);
    const held: string[] = [];
    for (const { pid } of ides) {
      for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
        const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode) held.push(inode);
      }
    }
    expect(held.length).toBeGreaterThan(0);
    expect(held.filter((inode) => listening.has(inode))).toEqual([]);
    const socket = ides.map((p) => /--socket (\S+)/.exec(p.cmdline)?.[1]).find(Boolean) ?? "";
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
  });

  it("aborting the execution ends the session and leaves no code-server process and no session directory", async () => {
    const { nodes } = await stack.api.executions.get.query({ id: executionId });
    const attemptId = nodes.find((n) => n.nodeId === "n1")?.attempts.at(-1)?.id ?? "";
    const log = (await stack.api.executions.logs.query({ attemptId })).text;
    const workspace = /VS Code workspace: (\S+)/.exec(log)?.[1] ?? "";
    expect(existsSync(workspace)).toBe(true);
    await stack.api.executions.abort.mutate({ id: executionId });
    const node = await waitFor("the node to end", async () => {
      const { nodes } = await stack.api.executions.get.query({ id: executionId });
      const n1 = nodes.find((n) => n.nodeId === "n1");
      return n1?.status === "ABORTED" ? n1 : undefined;
    });
    expect(node.attempts.at(-1)?.session).toMatchObject({ state: "ENDED", endReason: "aborted" });
    await waitFor(
      "code-server to be gone",
      async () =>
        (await processTable()).some((p) => p.cmdline.includes("code-server")) ? undefined : true,
      15_000,
    );
    // The agent removed the session's private directory (workspace, sockets, profile) before it exited.
    await waitFor(
      "the session directory to be gone",
      async () => (existsSync(dirname(workspace)) ? undefined : true),
      15_000,
    );
  });
});
