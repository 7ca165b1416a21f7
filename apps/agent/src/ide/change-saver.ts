/**
 * Saves the IDE's edits (one unified diff against the registered sources) to the server as they are made —
 * periodically and once at the end — so `drydock changes` has them even if the agent is killed. An
 * unchanged diff is not sent again.
 */
import { setTimeout as sleep } from "node:timers/promises";

import type { BundleManifest } from "@drydock/contracts";
import type { Logger } from "pino";

import { describeError } from "../client.js";
import type { AgentClient, ServerCall } from "../client.js";
import { workspaceChanges } from "./workspace.js";

export interface ChangeSaverOptions {
  bundleDir: string;
  manifest: BundleManifest;
  workspace: string;
  client: AgentClient;
  call: ServerCall;
  log: Logger;
}

export class ChangeSaver {
  private saved = "";
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ChangeSaverOptions) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.save(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Saves the edits if they changed; a failure is logged, never thrown. */
  async save(): Promise<void> {
    await this.trySave().catch((error: unknown) =>
      this.options.log.warn({ error: describeError(error) }, "could not save the IDE's edits"),
    );
  }

  /** The agent is on its way out: one quick try (no retries) for at most `limitMs`. */
  async saveBeforeExit(limitMs: number): Promise<void> {
    const { client } = this.options;
    const lastEdits = this.diff().then((patch) =>
      patch === this.saved ? undefined : client.agent.updateSession.mutate({ changes: patch }),
    );
    await Promise.race([lastEdits.catch(() => undefined), sleep(limitMs)]);
  }

  private async trySave(): Promise<void> {
    const { client, call } = this.options;
    const patch = await this.diff();
    if (patch === this.saved) return;
    await call("updateSession", () => client.agent.updateSession.mutate({ changes: patch }));
    this.saved = patch;
  }

  private diff(): Promise<string> {
    return workspaceChanges(this.options.bundleDir, this.options.manifest, this.options.workspace);
  }
}
