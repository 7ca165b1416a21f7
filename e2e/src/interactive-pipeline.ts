/**
 * The real interactive task the IDE tests share: fixtures/interactive/pipeline.ts, whose middle node n1 opens
 * VS Code. Its agent opens the session, starts code-server on a Unix socket in its private directory and
 * carries the relay tunnel; the session is READY once the IDE answers through the relay.
 */
import type { InteractiveSession } from "@drydock/contracts";
import { expect } from "vitest";

import { drydock, fixture, waitFor } from "./harness.js";
import type { Stack } from "./harness.js";

/** The node whose task is interactive. */
const INTERACTIVE_NODE = "n1";

/**
 * `drydock run --remote` of the pipeline, without waiting for it: the execution's id. Apart from waiting for its
 * session, so that a test keeps the id (to abort it) even when the session never gets ready.
 */
export async function launchInteractivePipeline(stack: Stack): Promise<string> {
  const launched = await drydock(
    ["run", "--remote", fixture("interactive/pipeline.ts"), "interactive_pipeline"],
    stack.env,
  );
  expect(launched.code, launched.stderr).toBe(0);
  return (launched.stdout + launched.stderr).match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";
}

/** The interactive node's session once it is READY; fails at once if the execution ends first. */
export function readySession(stack: Stack, executionId: string): Promise<InteractiveSession> {
  return waitFor(
    "the interactive session to be READY",
    async () => {
      const { execution, nodes } = await stack.api.executions.get.query({ id: executionId });
      if (execution.status !== "RUNNING")
        throw new Error(
          `the execution ended ${execution.status}: ${JSON.stringify(execution.error)}`,
        );
      const current = nodes.find((n) => n.nodeId === INTERACTIVE_NODE)?.attempts.at(-1)?.session;
      return current?.state === "READY" ? current : undefined;
    },
    90_000,
  );
}
