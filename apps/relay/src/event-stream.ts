/** Where a callback-style source (a tRPC subscription, a test's control plane) delivers its events. */
export interface EventSink<T> {
  push(event: T): void;
  /** The stream broke: the reader's loop throws `error` once the events before it are read. */
  fail(error: unknown): void;
  /** The source has no more events. */
  end(): void;
}

/**
 * A callback-style source read as an async iterable, so that a reader can `for await` over it: `start` is
 * called on the first read and returns what stops the source, which runs when the reader stops, the source
 * ends or fails, or `signal` aborts (the iteration then ends without an error).
 */
export async function* streamOf<T>(
  signal: AbortSignal,
  start: (sink: EventSink<T>) => () => void,
): AsyncGenerator<T, void, undefined> {
  const buffered: T[] = [];
  let failure: { error: unknown } | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const sink: EventSink<T> = {
    push: (event) => {
      if (ended || failure) return;
      buffered.push(event);
      notify();
    },
    fail: (error) => {
      if (ended || failure) return;
      failure = { error };
      notify();
    },
    end: () => {
      ended = true;
      notify();
    },
  };
  if (signal.aborted) return;
  signal.addEventListener("abort", notify);
  const stop = start(sink);
  try {
    for (;;) {
      if (signal.aborted) return;
      if (buffered.length > 0) yield buffered.shift() as T;
      else if (failure) throw failure.error;
      else if (ended) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener("abort", notify);
    stop();
  }
}
