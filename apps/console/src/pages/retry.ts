/** When a failed query is worth asking again: not when the server understood and refused it (4xx). */
import { TRPCClientError } from "@trpc/client";

/** react-query's `retry` for the pages: a missing workflow or a bad filter does not get better by asking twice. */
export function retryUnlessRefused(failureCount: number, error: unknown): boolean {
  const status =
    error instanceof TRPCClientError
      ? (error.data as { httpStatus?: number } | undefined)?.httpStatus
      : undefined;
  if (status !== undefined && status >= 400 && status < 500) return false;
  return failureCount < 2;
}
