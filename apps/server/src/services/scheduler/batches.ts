/**
 * Group commit, per key: while one batch of a key is being recorded, what arrives for that key waits, and
 * goes as the next batch, whole. A report that finds nothing under way goes at once, alone, so batching adds no
 * wait; under load, an execution's concurrent reports share one transaction (and one hold of its lock).
 */

/** One item's way back: its batch settles each item on its own. */
export interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class KeyedBatches<T, R> {
  private readonly waiting = new Map<string, Pending<T, R>[]>();
  private readonly running = new Set<string>();

  /** `record` settles every item of the batch it is given (resolving or rejecting each). */
  constructor(private readonly record: (key: string, batch: Pending<T, R>[]) => Promise<void>) {}

  add(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const batch = this.waiting.get(key);
      if (batch) batch.push({ item, resolve, reject });
      else this.waiting.set(key, [{ item, resolve, reject }]);
      if (!this.running.has(key)) void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (let batch = this.take(key); batch; batch = this.take(key)) {
        try {
          await this.record(key, batch);
        } catch (error) {
          // `record` settles its items; one that throws anyway leaves none hanging.
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.running.delete(key);
    }
  }

  private take(key: string): Pending<T, R>[] | undefined {
    const batch = this.waiting.get(key);
    this.waiting.delete(key);
    return batch;
  }
}
