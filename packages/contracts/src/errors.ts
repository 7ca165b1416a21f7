/** The transport-level kinds an application error maps to (tRPC codes; each has one HTTP status). */
export type AppErrorKind =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "PRECONDITION_FAILED"
  | "INTERNAL_SERVER_ERROR";

/**
 * An error with a stable string code (`EXECUTION_NOT_FOUND`), raised by a service's error catalogue and
 * mapped once, by the router contract, to its transport code.
 */
export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: string,
    readonly kind: AppErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
