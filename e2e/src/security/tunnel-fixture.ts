/**
 * A running stack with an interactive session ready and Chromium, for the tunnel's tests: the workbench opened
 * through the relay, the agent's tunnel connection as `ss` names it, and the relay's tunnel log lines.
 */
import { readdir, readFile, readlink } from "node:fs/promises";

import type { InteractiveSession } from "@drydock/contracts";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

import { launchChromium, processTable, startStack, tearDown } from "../harness.js";
import type { Stack } from "../harness.js";
import { launchInteractivePipeline, readySession } from "../interactive-pipeline.js";

export interface TunnelFixture {
  stack: () => Stack;
  /** The session's workspace folder (n1's, as its task log says). */
  workspace: () => string;
  /** The relay's log lines of tunnels connected or closed. */
  tunnelLines: (what: "connected" | "closed") => string[];
  /** The workbench in a new page; `sockets` records every WebSocket the page opens and closes, from the first. */
  openIde: (sockets?: { opened: string[]; closed: string[] }) => Promise<Page>;
  /** The agent's own TCP connection to the relay (its tunnel), as `ss` filters name it. */
  agentTunnelConnection: (relayPort: number) => Promise<{ localPort: number }>;
  /** The local ports of the other established connections to the relay's port: the browser's. */
  browserConnections: (relayPort: number) => Promise<number[]>;
}

/** Starts the stack and the session before the file's tests, and ends them after. */
export function tunnelFixture(): TunnelFixture {
  let stack: Stack;
  let executionId: string;
  let session: InteractiveSession;
  let workspace: string;
  let browser: Browser;

  beforeAll(async () => {
    // Info level: the relay logs every tunnel it accepts and closes.
    stack = await startStack({ env: { DRYDOCK_LOG_LEVEL: "info" } });
    executionId = await launchInteractivePipeline(stack);
    session = await readySession(stack, executionId);
    const { nodes } = await stack.api.executions.get.query({ id: executionId });
    const attemptId = nodes.find((n) => n.nodeId === "n1")?.attempts.at(-1)?.id ?? "";
    workspace =
      /VS Code workspace: (\S+)/.exec(
        (await stack.api.executions.logs.query({ attemptId })).text,
      )?.[1] ?? "";
    browser = await launchChromium();
  });

  afterAll(() => tearDown({ browser, executionId, stack }));

  return {
    stack: () => stack,
    workspace: () => workspace,
    tunnelLines: (what) =>
      stack
        .output()
        .split("\n")
        .filter((line) => line.includes(`"tunnel ${what}"`)),
    openIde: async (sockets) => {
      const ticket = await stack.api.sessions.ideTicket.mutate({ sessionId: session.id });
      const page = await (await browser.newContext()).newPage();
      page.on("websocket", (ws) => {
        sockets?.opened.push(ws.url());
        ws.on("close", () => sockets?.closed.push(ws.url()));
      });
      await page.goto(ticket.url);
      await page.waitForSelector(".monaco-workbench .statusbar", { timeout: 90_000 });
      return page;
    },
    agentTunnelConnection: async (relayPort) => {
      const agents = await agentSocketInodes();
      const row = (await tcpTo(relayPort)).find((r) => agents.has(r.inode));
      if (!row) throw new Error(`no connection from an agent to the relay's port ${relayPort}`);
      return { localPort: row.localPort };
    },
    browserConnections: async (relayPort) => {
      const agents = await agentSocketInodes();
      return (await tcpTo(relayPort)).filter((r) => !agents.has(r.inode)).map((r) => r.localPort);
    },
  };
}

/** The inodes of the sockets the agents hold. */
async function agentSocketInodes(): Promise<Set<string>> {
  const agents = (await processTable()).filter((p) => p.cmdline.includes("agent/dist/main.js"));
  const inodes = new Set<string>();
  for (const { pid } of agents) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
      const inode = /^socket:\[(\d+)\]$/.exec(
        await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ""),
      )?.[1];
      if (inode) inodes.add(inode);
    }
  }
  return inodes;
}

/** The established TCP connections to `port` on this machine, with their local port and socket inode. */
async function tcpTo(port: number): Promise<{ localPort: number; inode: string }[]> {
  const rows: { localPort: number; inode: string }[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const f of (await readFile(table, "utf8").catch(() => ""))
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))) {
      const [, local, remote, state, , , , , , inode] = f;
      if (state === "01" && inode && parseInt(remote?.split(":")[1] ?? "", 16) === port)
        rows.push({ localPort: parseInt(local?.split(":")[1] ?? "", 16), inode });
    }
  }
  return rows;
}
