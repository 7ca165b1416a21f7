/**
 * The session's countdown in the status bar (idle, or unopened while the server has not seen the IDE
 * opened). It ticks every second from the deadline of the last `status`, asks the agent again every 15 s
 * and after every action, and a click keeps the session alive.
 */
import * as vscode from "vscode";

import type { IdeStatus } from "@drydock/contracts/ide";

import type { IdeControlClient } from "./agent-client.js";
import { COMMANDS } from "./command-ids.js";
import { localDeadline, renderCountdown } from "./countdown.js";

const TICK_MS = 1_000;
const POLL_MS = 15_000;

export class IdleStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    "drydock.idle",
    vscode.StatusBarAlignment.Left,
    100,
  );
  private status: IdeStatus | undefined;
  private deadline: number | undefined;
  private lastError: string | undefined;
  private readonly timers: NodeJS.Timeout[];

  constructor(
    private readonly client: IdeControlClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.item.name = "Drydock idle countdown";
    this.item.text = "$(watch) Drydock";
    this.item.command = COMMANDS.keepAlive;
    this.item.show();
    this.timers = [
      setInterval(() => this.render(), TICK_MS),
      setInterval(() => void this.fetch(), POLL_MS),
    ];
  }

  /** Asks the agent where the session stands; a failure shows in the item, never throws. */
  async fetch(): Promise<void> {
    try {
      this.apply(await this.client.status());
    } catch (error) {
      this.fail(error);
    }
  }

  /** The `keepAlive` mutation: the deadline moves on by the limit that applies. Throws the agent's error. */
  async keepAlive(): Promise<IdeStatus> {
    try {
      const status = await this.client.keepAlive();
      this.apply(status);
      this.log.info(
        `keep-alive: the session now ends ${status.limit === "unopened" ? "unless opened by" : "idle at"} ${status.idleDeadline ?? "an unknown time"}`,
      );
      return status;
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  private apply(status: IdeStatus): void {
    const previous = this.status && { status: this.status, deadline: this.deadline };
    this.status = status;
    this.deadline = localDeadline(status, Date.now(), previous);
    if (this.lastError) this.log.info("status: the agent answers again");
    this.lastError = undefined;
    this.render();
  }

  private fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    // Polling repeats the same failure every 15 s: log it once, not forever.
    if (message !== this.lastError) this.log.error(`status: ${message}`);
    this.lastError = message;
    this.status = undefined;
    this.item.text = "$(warning) Drydock: agent not answering";
    this.item.tooltip = message;
    this.item.backgroundColor = new vscode.ThemeColor("statusBarItem.warningBackground");
  }

  private render(): void {
    if (!this.status) return;
    const view = renderCountdown(this.status, this.deadline, Date.now());
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.warning
      ? new vscode.ThemeColor("statusBarItem.warningBackground")
      : undefined;
  }

  dispose(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.item.dispose();
  }
}
