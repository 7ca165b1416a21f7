/**
 * A live session's IDE as the teams tests open and inspect it: the workbench from a ticket in someone's browser
 * context (with its WebSockets recorded), a terminal to type into, and where the session's agent keeps its
 * private directory and sockets.
 */
import { dirname, join } from "node:path";

import type { BrowserContext, Page } from "playwright-core";

import type { ApiClient, Stack } from "../harness.js";
import { runCommand } from "../ide.js";

/** The node of fixtures/interactive/pipeline.ts whose task opens VS Code. */
export const INTERACTIVE_NODE = "n1";

/** Each WebSocket a page opened, with when it closed (absent while it is open). */
export interface RecordedSocket {
  url: string;
  openedAt: number;
  closedAt?: number;
}

/**
 * Opens the session's IDE in `context` with a ticket `api`'s credential gets, as the console's VSCode (User)
 * link does; resolves once the workbench is on screen. `sockets` records every WebSocket of the page.
 */
export async function openIde(
  context: BrowserContext,
  api: ApiClient,
  sessionId: string,
  sockets: RecordedSocket[] = [],
): Promise<Page> {
  const ticket = await api.sessions.ideTicket.mutate({ sessionId });
  const page = await context.newPage();
  page.on("websocket", (ws) => {
    const socket: RecordedSocket = { url: ws.url(), openedAt: Date.now() };
    sockets.push(socket);
    ws.on("close", () => (socket.closedAt = Date.now()));
  });
  await page.goto(ticket.url);
  await page.waitForSelector(".monaco-workbench .statusbar", { timeout: 90_000 });
  return page;
}

/**
 * A new integrated terminal, focused. The palette may open before the workbench registered its commands:
 * try again after a moment.
 */
export async function openTerminal(ide: Page): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await runCommand(ide, "Terminal: Create New Terminal");
      break;
    } catch (error) {
      if (attempt === 3) throw error;
      await ide.keyboard.press("Escape");
      await ide.waitForTimeout(2_000);
    }
  }
  await ide.locator(".terminal-wrapper.active .xterm-screen").last().waitFor();
}

/** The interactive node's latest attempt id. */
export async function interactiveAttempt(stack: Stack, executionId: string): Promise<string> {
  const { nodes } = await stack.api.executions.get.query({ id: executionId });
  const attemptId = nodes.find((n) => n.nodeId === INTERACTIVE_NODE)?.attempts.at(-1)?.id;
  if (!attemptId) throw new Error(`execution ${executionId} has no attempt of ${INTERACTIVE_NODE}`);
  return attemptId;
}

/** The session's private directory (its workspace's parent), from the `VS Code workspace:` line of its log. */
export async function sessionPrivateDir(stack: Stack, attemptId: string): Promise<string> {
  const log = (await stack.api.executions.logs.query({ attemptId })).text;
  const workspace = /VS Code workspace: (\S+)/.exec(log)?.[1];
  if (!workspace) throw new Error(`attempt ${attemptId}'s log names no workspace:\n${log}`);
  return dirname(workspace);
}

/** The Unix sockets the session's agent listens on in its private directory. */
export function sessionSockets(privateDir: string): { codeServer: string; control: string } {
  return {
    codeServer: join(privateDir, "code-server.sock"),
    control: join(privateDir, "control.sock"),
  };
}
