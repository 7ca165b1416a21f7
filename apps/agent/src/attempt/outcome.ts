/**
 * How an attempt reports its end to the server: the output stored and `agent.complete`, or `agent.fail` with
 * the error — the task's log flushed first, since an ended attempt's token may append nothing more.
 */
import { createHash } from "node:crypto";

import { INLINE_JSON_BYTES } from "@drydock/contracts";
import type { ErrorInfo, JsonValue } from "@drydock/contracts";

import { describeError, isServerUnreachable } from "../client.js";
import { BlobHttp } from "./blob-http.js";
import type { AttemptContext } from "./context.js";
import { AGENT_ERROR_CODES, EXIT_CODES } from "./exit-codes.js";
import { errorInfo, errorName, printTaskError } from "./task-errors.js";

/** Log lines `agent.complete` carries at most (AgentCompleteInput); more go out in `agent.log` calls first. */
const COMPLETE_LINES = 500;

/**
 * Reports the attempt complete with the task's output: carried in the call when small, else uploaded first;
 * with the task's last log lines, and, for a warm agent, asking for its next attempt (`ctx.handOver`).
 */
export async function storeOutput(ctx: AttemptContext, output: JsonValue): Promise<number> {
  const { config, call, log, forwarder, signal } = ctx;
  const spec = ctx.assignment.task;
  if (signal.aborted) return EXIT_CODES.stopped;
  const body = JSON.stringify(output ?? null);
  const outputsSha256 = createHash("sha256").update(body).digest("hex");
  const inline = Buffer.byteLength(body) <= INLINE_JSON_BYTES;
  if (!inline) {
    const http = new BlobHttp(config);
    try {
      await call("output upload", () =>
        http.putJson(http.resolve(ctx.assignment.outputsUploadUrl), body),
      );
    } catch (error) {
      const message = `could not store the task's output: ${describeError(error)}`;
      log.error(message);
      return reportFailure(
        ctx,
        { message, name: errorName(error), code: AGENT_ERROR_CODES.outputUploadFailed },
        EXIT_CODES.platformFailed,
      );
    }
  }
  forwarder?.system(`task ${spec.name} succeeded`);
  const lines = (await forwarder?.take(COMPLETE_LINES)) ?? [];
  try {
    const answer = await call("complete", () =>
      ctx.client.agent.complete.mutate({
        outputsSha256,
        ...(inline ? { outputsJson: body } : {}),
        ...(lines.length > 0 ? { lines } : {}),
        ...(ctx.handOver ? { next: true } : {}),
      }),
    );
    if (ctx.handOver) ctx.handOver.next = answer.next ?? null;
  } catch (error) {
    forwarder?.giveBack(lines);
    log.error({ error: describeError(error) }, "the server refused agent.complete");
    if (isServerUnreachable(error)) return EXIT_CODES.platformFailed;
    // Answered (outputs over a limit, say): the attempt fails saying why, rather than by the agent's exit.
    const message = `the server refused the task's output: ${describeError(error)}`;
    forwarder?.system(message);
    return reportFailure(
      ctx,
      { message, name: "OutputRefused", code: AGENT_ERROR_CODES.outputRefused },
      EXIT_CODES.platformFailed,
    );
  }
  log.info({ outputsSha256 }, "task succeeded");
  return EXIT_CODES.succeeded;
}

/** The task threw: print it, say so in the task's log, report it. */
export function taskFailed(ctx: AttemptContext, error: unknown): Promise<number> {
  printTaskError(error);
  ctx.forwarder?.system(`task ${ctx.assignment.task.name} failed: ${describeError(error)}`);
  return reportFailure(ctx, errorInfo(error));
}

/** The bundle or the inputs could not be had: the platform failed, not the task. */
export function setupFailed(ctx: AttemptContext, what: string, error: unknown): Promise<number> {
  const message = `${what}: ${describeError(error)}`;
  ctx.log.error(message);
  ctx.forwarder?.system(message);
  return reportFailure(
    ctx,
    { message, name: errorName(error), code: AGENT_ERROR_CODES.setupFailed },
    EXIT_CODES.platformFailed,
  );
}

/** Reports the failure with `agent.fail` and resolves to `exitCode`, or to the code that says the report was lost. */
export async function reportFailure(
  ctx: AttemptContext,
  error: ErrorInfo,
  exitCode: number = EXIT_CODES.taskFailed,
): Promise<number> {
  if (ctx.signal.aborted) return EXIT_CODES.stopped;
  await ctx.forwarder?.flush();
  try {
    await ctx.call("fail", () => ctx.client.agent.fail.mutate({ error }));
  } catch (reportError) {
    ctx.log.error(
      { error: describeError(reportError), failure: error.message },
      "could not report the failure",
    );
    if (isServerUnreachable(reportError) || !(await reportRefusedFailure(ctx, error, reportError)))
      return EXIT_CODES.platformFailed;
  }
  ctx.log.info({ code: error.code, message: error.message }, "attempt failed");
  return exitCode;
}

/**
 * The server answered a failure report with an error: report that, with the failure's message cut short and
 * its control characters escaped, so the attempt still fails now, as itself, and its retries apply.
 */
async function reportRefusedFailure(
  ctx: AttemptContext,
  error: ErrorInfo,
  refusal: unknown,
): Promise<boolean> {
  const printable = JSON.stringify(error.message.slice(0, 2_000));
  const message = `the task failed, but the server refused its error report (${describeError(refusal)}); the error began: ${printable}`;
  try {
    await ctx.call("fail", () =>
      ctx.client.agent.fail.mutate({
        error: { message, name: error.name ?? "Error", code: AGENT_ERROR_CODES.reportRefused },
      }),
    );
    return true;
  } catch (again) {
    ctx.log.error({ error: describeError(again) }, "the server refused the failure report twice");
    return false;
  }
}
