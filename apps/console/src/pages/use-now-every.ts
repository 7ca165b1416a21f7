/** The current time for the list pages' displays that count (durations of running executions, "12 s ago"), each on its own pace. */
import { useEffect, useState } from "react";

/** `Date.now()`, refreshed every `intervalMs` by one timer; a clock for the screen, not a poll of the server. */
export function useNowEvery(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    // A new pace starts from the current time, not from the last tick of the old one.
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
