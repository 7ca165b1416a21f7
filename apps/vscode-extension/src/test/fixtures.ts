/** A task's context as an agent would serve it, for the tests of the pure modules and the client. */
import type { IdeChanges, IdeContext, IdeStatus } from "@drydock/contracts/ide";

export const WORKSPACE = "/srv/attempts/a1/workspace";

export function sampleContext(overrides: Partial<IdeContext> = {}): IdeContext {
  return {
    execution: { id: "ex-42", workflow: "wf", version: "v7" },
    node: { id: "n1", task: "say_hello" },
    attempt: { id: "at-1", number: 2 },
    inputs: { name: "world", config: { retries: 3, tags: ["a", "b"] } },
    upstream: [{ nodeId: "n0", task: "fetch_name" }],
    consoleUrl: "https://drydock.example/executions/ex-42?node=n1",
    entry: "workflow.ts",
    ...overrides,
  };
}

export function sampleStatus(overrides: Partial<IdeStatus> = {}): IdeStatus {
  return {
    state: "open",
    maxIdleSeconds: 300,
    limit: "idle",
    idleDeadline: "2030-01-01T00:05:00.000Z",
    idleRemainingMs: 300_000,
    resumeRequested: false,
    ...overrides,
  };
}

export function sampleChanges(): IdeChanges {
  return {
    patch: "--- a/workflow.ts\n+++ b/workflow.ts\n@@ -1 +1 @@\n-old\n+new\n",
    files: [
      { path: "workflow.ts", original: "old\n", status: "modified" },
      { path: "lib/new.ts", original: null, status: "added" },
      { path: "lib/gone.ts", original: "gone\n", status: "deleted" },
    ],
  };
}
