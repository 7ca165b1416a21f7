import { setTimeout as sleep } from "node:timers/promises";

import { RelayAccessEventSchema, type RelayAuthority } from "@drydock/contracts";
import type { FastifyBaseLogger } from "fastify";

import type { AccessRegistry } from "./access.js";

export interface AccessFeedOptions {
  authority: RelayAuthority;
  registry: AccessRegistry;
  log: FastifyBaseLogger;
  /** The first wait before subscribing again after the stream broke; it doubles up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Failures in a row logged at debug before they are warnings: `drydock up` starts its relay before the server. */
const QUIET_FAILURES = 3;

/**
 * Keeps the relay's revocations in step with the control plane: subscribes to its access events, applies
 * each (a snapshot first), and when the stream breaks or ends subscribes again after a backoff with jitter,
 * taking the next snapshot as the whole truth. While it is down the relay keeps what it knew.
 */
export class AccessFeed {
  private controller: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: AccessFeedOptions) {}

  start(): void {
    if (this.running) return;
    this.controller = new AbortController();
    this.running = this.follow(this.controller.signal);
  }

  /** Ends the subscription and any wait before the next one. */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.running;
    this.running = undefined;
  }

  private async follow(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        for await (const event of this.options.authority.accessEvents(signal)) {
          this.options.registry.apply(RelayAccessEventSchema.parse(event));
          failures = 0;
        }
        if (signal.aborted) return;
        throw new Error("the control plane ended the stream");
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        this.logFailure(error, failures);
      }
      await sleep(this.backoff(failures), undefined, { signal }).catch(() => undefined);
    }
  }

  /** Exponential, with half of it random, so that relays do not all come back at the same moment. */
  private backoff(failures: number): number {
    const { initialBackoffMs = 250, maxBackoffMs = 10_000 } = this.options;
    const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (failures - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private logFailure(error: unknown, failures: number): void {
    const message = error instanceof Error ? error.message : String(error);
    const entry = { failures, revocationsKept: this.options.registry.size, err: message };
    const text = "the control plane's access events stopped; subscribing again";
    if (failures < QUIET_FAILURES) this.options.log.debug(entry, text);
    else this.options.log.warn(entry, text);
  }
}
