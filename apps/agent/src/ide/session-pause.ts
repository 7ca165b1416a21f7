/**
 * The paused task's process in a session (post-mortem, or a pause point): where it is paused now, how VS
 * Code attaches to it, and what the attempt, which watches the process, tells the session about it — paused
 * again, no longer paused (it ran on to its end with an error), or ran to its end successfully, which ends
 * the session as resumed ("continued" in the debugger).
 */
import type { PauseInfo } from "@drydock/contracts";

/** What the session does when the attempt reports on the paused process. */
export interface PauseWatcher {
  /** Paused again, or (null) no longer paused: the server and the IDE are told. */
  updated(pause: PauseInfo | null): void;
  /** The process ran to its end successfully (continued in the debugger). */
  finished(): void;
}

export class SessionPause {
  private pause: PauseInfo | undefined;
  private finishedAlready = false;
  private watcher: PauseWatcher | undefined;

  constructor(
    first: PauseInfo,
    /** The paused process's inspector, `ws+unix:<socket>:/` (the attach configuration's websocketAddress). */
    readonly inspectorUrl: string,
    /** Where the process loaded the task's sources from (the attach configuration's remoteRoot). */
    readonly loadedFrom: string,
  ) {
    this.pause = first;
  }

  /** Where the process is paused now; undefined once it ran on to its end. */
  get current(): PauseInfo | undefined {
    return this.pause;
  }

  /** True once the process was held before the task ran and has not run any of it since. */
  get heldBefore(): boolean {
    return this.pause?.reason === "before";
  }

  update(pause: PauseInfo | null): void {
    this.pause = pause ?? undefined;
    this.watcher?.updated(pause);
  }

  finish(): void {
    this.pause = undefined;
    this.finishedAlready = true;
    this.watcher?.finished();
  }

  /** The session's side; a finish that came before it is passed on at once. */
  watch(watcher: PauseWatcher): void {
    this.watcher = watcher;
    if (this.finishedAlready) watcher.finished();
  }

  unwatch(): void {
    this.watcher = undefined;
  }
}
