/**
 * How a session ends. The first reason wins: a resume (asked for in the IDE, the console or the CLI), the
 * idle deadline passed, the attempt stopped (its stop signal), or code-server exiting on its own.
 */

export type EndReason =
  | { kind: "resume"; by: string }
  | { kind: "idle" }
  | { kind: "stopped" }
  | { kind: "crashed"; code: number | null };

/** The reason as the task's log says it ("code-server stopped (…)"). */
export function describeEndReason(reason: EndReason, maxIdleSeconds: number): string {
  switch (reason.kind) {
    case "resume":
      return `resume asked for by ${reason.by}`;
    case "idle":
      return `no activity for ${maxIdleSeconds} s`;
    case "stopped":
      return "the attempt was stopped";
    case "crashed":
      return `it exited on its own with code ${String(reason.code)}`;
  }
}

export class Ending {
  /** The reason, once the session is ending. */
  settled: EndReason | undefined;
  readonly promise: Promise<EndReason>;
  private resolve!: (reason: EndReason) => void;
  private readonly onAbort = () => this.settle({ kind: "stopped" });

  constructor(private readonly signal: AbortSignal) {
    this.promise = new Promise((resolve) => (this.resolve = resolve));
    if (signal.aborted) this.onAbort();
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** True when this reason ended the session; false when it was already ending. */
  settle(reason: EndReason): boolean {
    if (this.settled) return false;
    this.settled = reason;
    this.resolve(reason);
    return true;
  }

  dispose(): void {
    this.signal.removeEventListener("abort", this.onAbort);
  }
}
