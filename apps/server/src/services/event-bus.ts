import { EventEmitter } from "node:events";

import type { ExecutionEvent } from "@drydock/contracts";

/** Fans execution events out to watchers, by execution id, after the change is committed. */
export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(executionId: string, event: ExecutionEvent): void {
    this.emitter.emit(executionId, event);
  }

  subscribe(executionId: string, listener: (event: ExecutionEvent) => void): () => void {
    this.emitter.on(executionId, listener);
    return () => this.emitter.off(executionId, listener);
  }
}
