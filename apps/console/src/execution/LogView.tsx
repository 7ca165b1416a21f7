/** An attempt's log, live: appended as it grows, kept scrolled to the end unless the reader scrolled up. */
import { useEffect, useLayoutEffect, useRef, useState } from "react";

import { api, errorMessage } from "../api.js";
import type { LogState } from "./logs.js";
import { appendLogChunk, EMPTY_LOG } from "./logs.js";

/** `lost`: lines of this attempt's log the server could not store, and why (the log below is incomplete). */
export function LogView({
  attemptId,
  lost,
}: {
  attemptId: string;
  lost?: { lines: number; reason: string } | undefined;
}) {
  const [log, setLog] = useState<{ attemptId: string; state: LogState; error?: unknown }>({
    attemptId,
    state: EMPTY_LOG,
  });
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    setLog({ attemptId, state: EMPTY_LOG });
    stick.current = true;
    const subscription = api.executions.tailLogs.subscribe(
      { attemptId, offset: 0 },
      {
        onData: (chunk) =>
          setLog((l) =>
            l.attemptId === attemptId ? { ...l, state: appendLogChunk(l.state, chunk) } : l,
          ),
        onError: (error) => setLog((l) => (l.attemptId === attemptId ? { ...l, error } : l)),
      },
    );
    return () => subscription.unsubscribe();
  }, [attemptId]);

  useLayoutEffect(() => {
    const el = pre.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [log.state.text]);

  const { state, error } = log;
  const empty = state.text.length === 0;
  return (
    <div className="log-view">
      {lost && (
        <p className="inline-error" role="alert" data-testid="log-lost">
          This log is incomplete: {lost.lines} line(s) could not be stored ({lost.reason}).
        </p>
      )}
      {state.trimmed && (
        <p className="muted">Earlier output is not shown (the pane keeps the last 1 MB).</p>
      )}
      <pre
        ref={pre}
        className="node-logs"
        data-testid="node-logs"
        tabIndex={0}
        aria-label="Task logs"
        onScroll={(event) => {
          const el = event.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {empty ? (state.ended ? "The task wrote no output." : "No output yet.") : state.text}
      </pre>
      {error !== undefined && (
        <p className="inline-error" role="alert">
          Logs stopped: {errorMessage(error)}
        </p>
      )}
    </div>
  );
}
