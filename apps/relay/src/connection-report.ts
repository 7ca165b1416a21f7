import { CONNECTION_REPORT_SECONDS, type RelayAuthority } from "@drydock/contracts";
import type { FastifyBaseLogger } from "fastify";

import type { BrowserConnections } from "./browser-connections.js";

export interface ConnectionReporterParts {
  relayId: string;
  connections: BrowserConnections;
  authority: RelayAuthority;
  log: FastifyBaseLogger;
  /** How long after a change the report goes, so that a page opening its connections sends one report. */
  debounceMs?: number;
  /** The longest time between reports; below the control plane's trust in one, so that a lost report costs nothing. */
  everyMs?: number;
}

/**
 * Tells the control plane who is connected through this relay now: the whole picture, shortly after each
 * change and at least every third of `CONNECTION_REPORT_SECONDS`. One report is in flight at a time; a
 * failed one is logged and the next change or tick tries again.
 */
export class ConnectionReporter {
  private debounce: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private inFlight = false;
  private again = false;
  private running = false;

  constructor(private readonly parts: ConnectionReporterParts) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const everyMs = this.parts.everyMs ?? (CONNECTION_REPORT_SECONDS * 1000) / 3;
    this.tick = setInterval(() => this.report(), everyMs).unref();
  }

  stop(): void {
    this.running = false;
    clearInterval(this.tick);
    clearTimeout(this.debounce);
    this.debounce = undefined;
  }

  /** Someone connected or left: report soon. */
  changed(): void {
    if (!this.running || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.report();
    }, this.parts.debounceMs ?? 250);
  }

  private report(): void {
    if (!this.running) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    void this.send().finally(() => {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.report();
      }
    });
  }

  private async send(): Promise<void> {
    const { relayId, connections, authority, log } = this.parts;
    const sessions = connections.picture();
    try {
      await authority.reportConnections({ relayId, sessions });
    } catch (error) {
      log.warn(
        { relayId, sessions: sessions.length, err: error instanceof Error ? error.message : error },
        "could not report who is connected to the control plane; the next change or tick tries again",
      );
    }
  }
}
