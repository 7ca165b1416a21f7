/**
 * The execution, live: `executions.watch` sends a snapshot, then changes. Changes arriving together (a
 * thousand elements finishing) are folded in once per animation frame, not once per message.
 */
import { useEffect, useRef, useState } from "react";

import { api } from "../api.js";
import type { ExecutionDetail, ExecutionEvent } from "../ui/types.js";
import { applyEvents } from "./state.js";

export interface ExecutionWatch {
  detail: ExecutionDetail | undefined;
  error: unknown;
  retry: () => void;
}

export function useExecutionWatch(
  id: string,
  onEvents?: (events: readonly ExecutionEvent[]) => void,
  onSnapshot?: (detail: ExecutionDetail) => void,
): ExecutionWatch {
  const [state, setState] = useState<{ id: string; detail?: ExecutionDetail; error?: unknown }>({
    id,
  });
  const [round, setRound] = useState(0);
  const listener = useRef(onEvents);
  const snapshotListener = useRef(onSnapshot);
  useEffect(() => {
    listener.current = onEvents;
    snapshotListener.current = onSnapshot;
  }, [onEvents, onSnapshot]);

  useEffect(() => {
    let queue: ExecutionEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = queue;
      queue = [];
      setState((s) =>
        s.id === id
          ? { id, detail: applyEvents(s.detail, batch) }
          : { id, detail: applyEvents(undefined, batch) },
      );
      listener.current?.(batch);
    };
    setState((s) => (s.id === id && !s.error ? s : { id }));
    const subscription = api.executions.watch.subscribe(
      { id },
      {
        onData: (event) => {
          if (event.type === "snapshot") {
            if (performance.getEntriesByName("drydock:snapshot").length === 0)
              performance.mark("drydock:snapshot");
            snapshotListener.current?.(event.detail);
          }
          queue.push(event);
          frame ||= requestAnimationFrame(flush);
        },
        onError: (error) => setState((s) => ({ ...s, id, error })),
      },
    );
    return () => {
      subscription.unsubscribe();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [id, round]);

  return {
    detail: state.id === id ? state.detail : undefined,
    error: state.id === id ? state.error : undefined,
    retry: () => setRound((r) => r + 1),
  };
}
