/**
 * Tells the server the attempt is alive, every `intervalMs`, and stops the attempt when the server says
 * so (`proceed: false`), rejects the agent, or stays unreachable for longer than `reconnectSeconds`.
 */
import type { Logger } from "pino";

import { answeredStatus, describeError, isServerUnreachable } from "./client.js";

export interface HeartbeatOptions {
  intervalMs: number;
  reconnectSeconds: number;
  logger: Logger;
  /** Called once, with the reason, when the attempt must stop. */
  onStop: (reason: string) => void;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastAnswer = Date.now();

  constructor(
    private readonly beat: () => Promise<{ proceed: boolean }>,
    private readonly options: HeartbeatOptions,
  ) {}

  start(): void {
    this.running = true;
    this.lastAnswer = Date.now();
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.running) return;
    // Deliberately keeps the process alive: while the attempt runs, the agent beats, even if the task
    // awaits nothing that would (a deadlocked task then ends when the server says stop).
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
  }

  private async tick(): Promise<void> {
    const { logger } = this.options;
    try {
      const { proceed } = await this.beat();
      this.lastAnswer = Date.now();
      if (!proceed)
        return this.halt(
          "the server asked the agent to stop (the attempt was aborted, timed out or already ended)",
        );
    } catch (error) {
      const status = answeredStatus(error);
      if (isServerUnreachable(error)) {
        const silentFor = Date.now() - this.lastAnswer;
        if (silentFor > this.options.reconnectSeconds * 1_000) {
          return this.halt(
            `the server has been unreachable for ${Math.round(silentFor / 1_000)} s`,
          );
        }
        logger.warn(
          { error: describeError(error) },
          "heartbeat: the server is unreachable, will retry",
        );
      } else if (
        status !== undefined &&
        status >= 400 &&
        status < 500 &&
        status !== 408 &&
        status !== 429
      ) {
        // The server answered that this attempt is not (or no longer) the agent's to run.
        return this.halt(`the server rejected the heartbeat (${status}): ${describeError(error)}`);
      } else {
        logger.warn({ error: describeError(error) }, "heartbeat failed, will retry");
      }
    }
    this.schedule();
  }

  private halt(reason: string): void {
    if (!this.running) return;
    this.stop();
    this.options.onStop(reason);
  }
}
