import { EventEmitter } from "node:events";

import type { ExecutionEvent } from "@drydock/contracts";

/** What the bus carries on one channel, as it reaches the other replicas' buses (bus-link.ts). */
export interface BusMessage {
  channel: string;
  value: unknown;
}

/**
 * Fans changes out to watchers, after they are committed: one execution's events (by execution id), the
 * project's list of executions (which execution started or changed status), and an attempt's log growing.
 * Channels are prefixed, so an id can never collide with another kind. Linked to the other server replicas
 * (bus-link.ts), what it publishes reaches their watchers too, and theirs reach its own.
 */
export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });
  private forward: ((message: BusMessage) => void) | undefined;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Every message published here goes to `forward` too (the other replicas). */
  forwardTo(forward: ((message: BusMessage) => void) | undefined): void {
    this.forward = forward;
  }

  /** A message another replica published: for this replica's watchers. */
  deliver(message: BusMessage): void {
    this.emitter.emit(message.channel, message.value);
  }

  publish(executionId: string, event: ExecutionEvent): void {
    this.emit(`execution:${executionId}`, event);
  }

  subscribe(executionId: string, listener: (event: ExecutionEvent) => void): () => void {
    return this.on(`execution:${executionId}`, listener);
  }

  /** An execution of `project` started or changed status. */
  publishListChange(project: string, executionId: string): void {
    this.emit(`list:${project}`, executionId);
  }

  subscribeList(project: string, listener: (executionId: string) => void): () => void {
    return this.on(`list:${project}`, listener);
  }

  /** The attempt's log grew. */
  publishLog(attemptId: string): void {
    this.emit(`log:${attemptId}`, null);
  }

  subscribeLog(attemptId: string, listener: () => void): () => void {
    return this.on(`log:${attemptId}`, listener);
  }

  private emit(channel: string, value: unknown): void {
    this.emitter.emit(channel, value);
    this.forward?.({ channel, value });
  }

  private on<A extends unknown[]>(channel: string, listener: (...args: A) => void): () => void {
    this.emitter.on(channel, listener as (...args: unknown[]) => void);
    return () => this.emitter.off(channel, listener as (...args: unknown[]) => void);
  }
}

/**
 * What a subscription heard, kept until taken: a watcher subscribes first, then loads its snapshot, then
 * takes what arrived meanwhile and after, so nothing falls between the two.
 */
export class Inbox<T> {
  private readonly pending: T[] = [];
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(subscribe: (push: (value: T) => void) => () => void) {
    this.unsubscribe = subscribe((value) => {
      this.pending.push(value);
      this.wake?.();
    });
  }

  /** Everything heard so far; waits for the next when nothing is pending. Empty once `signal` aborted. */
  async take(signal: AbortSignal): Promise<T[]> {
    if (this.pending.length === 0 && !signal.aborted) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
      this.wake = undefined;
    }
    return this.pending.splice(0);
  }

  close(): void {
    this.unsubscribe();
  }
}
