/** Following a server execution from the CLI (`run --remote --wait`, `debug --wait`). */
import type { ExecutionDetail, ExecutionEvent, InteractiveSession } from "@drydock/contracts";
import { describePause, LAUNCH_NAMES } from "@drydock/contracts";

import type { ApiClient } from "./client.js";
import { explainApiError } from "./client.js";
import { printResult } from "./output.js";
import type { OutputFormat } from "./output.js";

/**
 * Reports node status changes as they happen, and a sign-in link for each interactive task's IDE once it is
 * ready; prints the result (exit 0) or the failed node's error (exit 1).
 */
export async function followExecution(
  api: ApiClient,
  id: string,
  format: OutputFormat,
  endpoint: string,
): Promise<number> {
  const stop = new AbortController();
  const announced = announceIdes(api, id, endpoint, stop.signal);
  try {
    return await followEvents(api, id, format);
  } finally {
    stop.abort();
    await announced;
  }
}

async function followEvents(api: ApiClient, id: string, format: OutputFormat): Promise<number> {
  const tasks = new Map<string, string>();
  const final = await new Promise<ExecutionEvent & { type: "execution" }>((resolve, reject) => {
    const subscription = api.executions.watch.subscribe(
      { id },
      {
        onData: (event: ExecutionEvent) => {
          if (event.type === "snapshot") {
            for (const n of event.detail.nodes) tasks.set(n.nodeId, n.task);
            const e = event.detail.execution;
            if (e.status !== "RUNNING")
              resolve({
                type: "execution",
                executionId: e.id,
                status: e.status,
                at: e.endedAt ?? e.createdAt,
                ...(e.result !== undefined ? { result: e.result } : {}),
                ...(e.error ? { error: e.error } : {}),
              });
            return;
          }
          if (event.type === "node") {
            const isElement = event.nodeId.includes("[");
            if (isElement && event.status !== "FAILED") return;
            const task =
              tasks.get(event.nodeId) ?? tasks.get(event.nodeId.replace(/\[\d+\]$/, "")) ?? "";
            const attempt = event.attempt && event.attempt > 1 ? ` (attempt ${event.attempt})` : "";
            const why = event.error ? `: ${event.error.message}` : "";
            process.stderr.write(`  ${event.nodeId} ${task} ${event.status}${attempt}${why}\n`);
            return;
          }
          // Sessions are announced by announceIdes.
          if (event.type === "session") return;
          subscription.unsubscribe();
          resolve(event);
        },
        onError: (error) => reject(error),
      },
    );
  });
  process.stderr.write(`execution ${id} ${final.status}\n`);
  if (final.status === "SUCCEEDED") {
    printResult(final.result, format);
    return 0;
  }
  const detail: ExecutionDetail = await api.executions.get.query({ id });
  const failed = detail.nodes.filter((n) => n.status === "FAILED");
  for (const node of failed) {
    process.stderr.write(
      `\nnode ${node.nodeId} (${node.task}) failed after ${node.attempts.length} attempt(s): ${node.error?.message ?? "unknown error"}\n`,
    );
    if (node.error?.stack) process.stderr.write(`${node.error.stack}\n`);
  }
  if (failed.length === 0 && final.error) process.stderr.write(`${final.error.message}\n`);
  if (format === "json") printResult({ status: final.status, error: final.error ?? null }, "json");
  return 1;
}

/**
 * What the CLI says of a session once its IDE is ready: the sign-in link, and what to do there; for a paused
 * task, where it is paused and the three ways to resume it.
 */
export function describeReadyIde(
  executionId: string,
  nodeId: string,
  session: Pick<InteractiveSession, "pause">,
  ticket: { url: string; expiresAt: string },
): string {
  const link =
    `IDE ready: ${ticket.url}\n` +
    `  (a single-use link, valid until ${ticket.expiresAt}; the console's VSCode (User) link opens the IDE again)\n`;
  if (!session.pause)
    return `${link}  run "${LAUNCH_NAMES.debug}" there; when you are done, "${LAUNCH_NAMES.resume}", or: drydock resume ${executionId} ${nodeId}\n`;
  return (
    `${link}  ${describePause(session.pause)}\n` +
    `  opening the IDE attaches the debugger to the paused task ("${LAUNCH_NAMES.attach}"); when you are done: drydock resume ${executionId} ${nodeId} --edited | --original | --fail\n`
  );
}

/**
 * Prints a sign-in link for each interactive session of the execution once it is READY (sessions' changes
 * are part of the execution's event stream), until the execution ends or `signal` says to stop.
 */
export async function announceIdes(
  api: ApiClient,
  executionId: string,
  endpoint: string,
  signal: AbortSignal,
): Promise<void> {
  const announced = new Set<string>();
  const announce = async (nodeId: string, session: InteractiveSession | undefined) => {
    if (session?.state !== "READY" || !session.link || announced.has(session.id)) return;
    announced.add(session.id);
    const ticket = await api.sessions.ideTicket.mutate({ sessionId: session.id });
    process.stderr.write(describeReadyIde(executionId, nodeId, session, ticket));
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let pending = Promise.resolve();
      const subscription = api.executions.watch.subscribe(
        { id: executionId },
        {
          onData: (event: ExecutionEvent) => {
            // One announcement at a time, in order; a failure ends the watch with its reason.
            pending = pending
              .then(async () => {
                if (event.type === "snapshot")
                  for (const node of event.detail.nodes)
                    await announce(node.nodeId, node.attempts.at(-1)?.session);
                if (event.type === "session") await announce(event.nodeId, event.session);
              })
              .catch((error: unknown) => {
                subscription.unsubscribe();
                reject(error instanceof Error ? error : new Error(String(error)));
              });
          },
          onComplete: () => void pending.then(() => resolve()),
          onError: reject,
        },
      );
      signal.addEventListener(
        "abort",
        () => {
          subscription.unsubscribe();
          resolve();
        },
        { once: true },
      );
    });
  } catch (error) {
    if (signal.aborted) return;
    process.stderr.write(
      `could not get the IDE link (open it from the console instead): ${explainApiError(error, endpoint).message}\n`,
    );
  }
}
