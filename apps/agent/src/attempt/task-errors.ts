/** How a task's failure is caught (a throw, or an error from a callback it scheduled), printed and described. */
import type { ErrorInfo } from "@drydock/contracts";

/** Runs the task, treating an error thrown from a callback it scheduled (uncaught) as the task's failure. */
export function runTrapped<T>(fn: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // Passed on exactly as thrown (a non-Error too), so errorInfo can say what the task threw.
    const onUncaught: (reason: unknown) => void = reject;
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    Promise.resolve()
      .then(fn)
      .then(resolve, reject)
      .finally(() => {
        process.off("uncaughtException", onUncaught);
        process.off("unhandledRejection", onUncaught);
      });
  });
}

/** The error as `agent.fail` reports it; a thrown non-Error is described, not lost. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error)
    return {
      message: error.message,
      name: error.name,
      ...(error.stack ? { stack: error.stack } : {}),
    };
  let message: string;
  try {
    message = typeof error === "string" ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    message = String(error);
  }
  return { message: `non-Error thrown: ${message}`, name: typeof error };
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

/** Prints a task error the way Node would for a crash, so it shows in the forwarded stderr too. */
export function printTaskError(error: unknown): void {
  const text =
    error instanceof Error
      ? (error.stack ?? `${error.name}: ${error.message}`)
      : errorInfo(error).message;
  process.stderr.write(`${text}\n`);
}
