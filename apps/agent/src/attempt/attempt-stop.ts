/**
 * The running attempt's stop: the server's answer (`proceed: false`, or lost for too long) or the agent's
 * own termination (SIGTERM). The first reason wins and decides the exit code.
 */
import { EXIT_CODES } from "./exit-codes.js";

export class AttemptStop {
  /** The exit code of the reason that stopped the attempt. */
  code: number = EXIT_CODES.stopped;
  /** Resolves to `code` once the attempt is stopped. */
  readonly stopped: Promise<number>;
  private readonly controller = new AbortController();
  private readonly onTerminate = () =>
    this.halt(EXIT_CODES.terminated, "the agent was asked to terminate");

  /** `terminate`: aborted when the agent is asked to terminate (main wires SIGTERM to it). */
  constructor(private readonly terminate?: AbortSignal) {
    this.stopped = new Promise((resolve) =>
      this.controller.signal.addEventListener("abort", () => resolve(this.code), { once: true }),
    );
    if (terminate?.aborted) this.onTerminate();
    terminate?.addEventListener("abort", this.onTerminate, { once: true });
  }

  /** Aborted, with the reason as an Error, when the attempt stops. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  halt(code: number, reason: string): void {
    if (this.controller.signal.aborted) return;
    this.code = code;
    this.controller.abort(new Error(reason));
  }

  dispose(): void {
    this.terminate?.removeEventListener("abort", this.onTerminate);
  }
}
