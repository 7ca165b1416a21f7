/** Small pieces the header and the task pane share: JSON values and errors. */
import type { ErrorInfo, JsonValue } from "@drydock/contracts";

/** A value short enough to show on one line, as JSON; undefined when it is not. */
export function inlineJson(value: JsonValue | undefined, max = 80): string | undefined {
  const text = JSON.stringify(value ?? null);
  return text.length <= max ? text : undefined;
}

export function JsonBlock({
  value,
  testId,
  label,
}: {
  value: JsonValue | undefined;
  testId?: string;
  label: string;
}) {
  return (
    <pre className="json-block" data-testid={testId} aria-label={label} tabIndex={0}>
      {JSON.stringify(value ?? null, null, 2)}
    </pre>
  );
}

/** An error: its message, and its stack in a <pre> (folded away when `foldStack`, to keep a header short). */
export function ErrorBlock({
  error,
  title,
  testId,
  foldStack = false,
}: {
  error: ErrorInfo;
  title?: string;
  testId?: string;
  foldStack?: boolean;
}) {
  const stack = error.stack ? (
    <pre className="error-stack" tabIndex={0}>
      {error.stack}
    </pre>
  ) : null;
  return (
    <div className="error-block" role="group" aria-label={title ?? "Error"} data-testid={testId}>
      {title && <h3>{title}</h3>}
      <p className="error-message">
        {error.name && error.name !== "Error" ? `${error.name}: ` : ""}
        {error.message}
        {error.code ? <code className="error-code">{error.code}</code> : null}
      </p>
      {stack && foldStack ? (
        <details>
          <summary>Stack trace</summary>
          {stack}
        </details>
      ) : (
        stack
      )}
    </div>
  );
}
