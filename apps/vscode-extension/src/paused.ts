/**
 * A paused task's session (post-mortem, or a pause point): when the agent's context says the task's process
 * is paused, the debugger attaches to it by itself — the workspace's launch configuration the context names
 * ("Attach to Paused Task") starts once — and the user is told where it stopped. Also keeps the `drydock.paused`
 * context key, which shows the commands that only a paused task has. Nothing here imports `vscode`: the
 * extension passes the few calls it needs (`PausedHost`), the tests pass fakes.
 */
import { describePause } from "@drydock/contracts/constants";
import type { IdeContext } from "@drydock/contracts/ide";

/** The context key of the manifest's `when` clauses: true while the task's process is paused. */
export const PAUSED_CONTEXT_KEY = "drydock.paused";

export type PausedState = NonNullable<IdeContext["paused"]>;

/** What the paused-task handling needs of VS Code. */
export interface PausedHost {
  /** Starts the workspace folder's launch configuration of that name (`vscode.debug.startDebugging`). */
  startDebugging(name: string): Promise<boolean>;
  showInformation(message: string): void;
  showWarning(message: string): void;
  /** `setContext` for the manifest's `when` clauses. */
  setContext(key: string, value: boolean): Promise<void>;
  log: { info(message: string): void; error(message: string): void };
}

/**
 * The pauses whose debugger this extension host already started. A module's state lives as long as the
 * extension host: the extension activated again in the same window does not attach twice, while a reload of
 * the page (a new extension host, whose debugger sessions are gone) attaches again.
 */
const attachedPauses = new Set<string>();

export class PausedTask {
  private paused: boolean | undefined;

  constructor(
    private readonly host: PausedHost,
    private readonly attached: Set<string> = attachedPauses,
  ) {}

  /** Called with every context fetched from the agent: sets the context key, and attaches to a new pause. */
  async apply(context: IdeContext): Promise<void> {
    const pause = context.paused;
    if (this.paused !== (pause !== undefined)) {
      this.paused = pause !== undefined;
      await this.host.setContext(PAUSED_CONTEXT_KEY, this.paused);
    }
    if (!pause) return;
    // A pause is one attempt's process stopped at one moment; another pause (a new attempt) attaches again.
    const key = `${context.attempt.id}@${pause.at}`;
    if (this.attached.has(key)) return;
    this.attached.add(key);
    const where = describePause(pause);
    this.host.log.info(`${where}: starting "${pause.attachConfiguration}"`);
    this.host.showInformation(`Drydock: ${where}`);
    let started: boolean;
    try {
      started = await this.host.startDebugging(pause.attachConfiguration);
    } catch (error) {
      this.host.log.error(
        `"${pause.attachConfiguration}": ${error instanceof Error ? error.message : String(error)}`,
      );
      started = false;
    }
    if (!started)
      this.host.showWarning(
        `Drydock: the launch configuration "${pause.attachConfiguration}" did not start: start it from Run and Debug to see the paused task's stack and variables.`,
      );
  }
}
