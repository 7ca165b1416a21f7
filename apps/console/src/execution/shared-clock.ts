/**
 * One shared 1 s clock for everything on the page that ticks (running durations, the idle countdown): a
 * thousand running nodes share one timer, and nothing ticks once nothing is live. Display only; it never
 * asks the server anything.
 */
import { useSyncExternalStore } from "react";

let now = Date.now();
let timer: ReturnType<typeof setInterval> | undefined;
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, 1_000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

const still = () => () => undefined;
const read = () => now;

/** The time, re-rendering every second while `live`; while not, the last tick (callers then use end times). */
export function useSharedClock(live: boolean): number {
  return useSyncExternalStore(live ? subscribe : still, read, read);
}
