import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import { Router } from "wouter";

import { testMe, testSession, withIdentity } from "../__tests__/fixtures.js";
import type { ExecutionDetail, Me, NodeExecution } from "../ui/types.js";
import type { DagNode } from "./graph.js";

// api.ts opens a WebSocket client against `location` when imported; rendering on the server needs none of it.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String, appCode: () => undefined }));
const { TaskPane, nodeQueryKey } = await import("./TaskPane.js");
const { formatTimeOfDay } = await import("./time-of-day.js");

const T0 = "2030-01-01T00:00:00.000Z";
const T1 = "2030-01-01T00:00:02.500Z";

function detail(
  nodes: NodeExecution[],
  extra: Partial<ExecutionDetail["execution"]> = {},
): ExecutionDetail {
  return {
    execution: {
      id: "x1",
      project: "default",
      workflow: "wf",
      version: "v1",
      status: "RUNNING",
      overwriteCache: false,
      pauseBefore: [],
      inputs: {},
      createdAt: T0,
      ...extra,
    },
    nodes,
  };
}

function render(
  d: ExecutionDetail,
  nodeId: string,
  dagNode: DagNode,
  fetched?: NodeExecution,
  me: Me = testMe({ default: "editor" }),
): string {
  const client = new QueryClient();
  if (fetched) client.setQueryData(nodeQueryKey("x1", nodeId), fetched);
  const pane = createElement(TaskPane, {
    detail: d,
    nodeId,
    dagNode,
    fanout: undefined,
    onSelect: () => undefined,
    onClose: () => undefined,
  });
  return renderToStaticMarkup(
    createElement(
      QueryClientProvider,
      { client },
      createElement(Router, { ssrPath: "/executions/x1", children: withIdentity(me, pane) }),
    ),
  );
}

const task: DagNode = { id: "n0", task: "double", kind: "task", interactive: false };

describe("TaskPane", () => {
  it("shows a finished node's inputs, outputs and attempts, with Debug", () => {
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "double",
      status: "SUCCEEDED",
      startedAt: T0,
      endedAt: T1,
      attempts: [
        {
          id: "x1.n0.a1",
          executionId: "x1",
          nodeId: "n0",
          number: 1,
          status: "SUCCEEDED",
          createdAt: T0,
          startedAt: T0,
          endedAt: T1,
        },
      ],
    };
    const html = render(detail([live]), "n0", task, { ...live, inputs: { x: 21 }, outputs: 42 });
    expect(html).toContain('data-testid="task-pane"');
    expect(html).toMatch(
      /<pre class="json-block" data-testid="node-inputs"[^>]*>\{\n {2}&quot;x&quot;: 21\n\}<\/pre>/,
    );
    expect(html).toMatch(/data-testid="node-outputs"[^>]*>42<\/pre>/);
    expect(html).toContain('data-testid="attempt-1"');
    expect(html).toContain(">Debug</button>");
    expect(html).toMatch(
      /<button type="button" title="[^"]*held on its task&#x27;s first line">Debug, paused before the task<\/button>/,
    );
    expect(html).toContain('data-testid="node-logs"');
    expect(html).not.toContain("Download changes");
  });

  it("disables Debug for a viewer, naming the role it needs", () => {
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "double",
      status: "FAILED",
      attempts: [],
    };
    const fetched = { ...live, inputs: { x: 21 } };
    const viewer = testMe({ default: "viewer" });
    expect(render(detail([live]), "n0", task, fetched, viewer)).toMatch(
      /<button type="button" disabled="" title="Needs the editor role in project default \(you are a viewer\)">Debug<\/button>/,
    );
    expect(render(detail([live]), "n0", task, fetched)).toMatch(
      /<button type="button" title="Re-run this node[^"]*">Debug<\/button>/,
    );
  });

  it("shows where a running node's task is paused, with the three resume choices", () => {
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "parse",
      status: "RUNNING",
      startedAt: T0,
      attempts: [
        {
          id: "x1.n0.a1",
          executionId: "x1",
          nodeId: "n0",
          number: 1,
          status: "RUNNING",
          createdAt: T0,
          session: testSession({
            state: "READY",
            link: "http://s1abc.localhost:8485/",
            pause: { reason: "exception", file: "steps.ts", line: 12, message: "boom", at: T0 },
          }),
        },
      ],
    };
    const html = render(detail([live]), "n0", { ...task, task: "parse", interactive: true });
    expect(html).toContain(">paused at steps.ts:12: boom</p>");
    for (const label of ["Resume with edits", "Run original again", "End as failed"])
      expect(html).toContain(`>${label}</button>`);
  });

  it("shows how each attempt was resumed, by whom and when", () => {
    type Attempt = NodeExecution["attempts"][number];
    const attempt = (number: number, extra: Partial<Attempt>): Attempt => ({
      id: `x1.n0.a${number}`,
      executionId: "x1",
      nodeId: "n0",
      number,
      status: "FAILED",
      createdAt: T0,
      ...extra,
    });
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "parse",
      status: "FAILED",
      inputs: {},
      attempts: [
        attempt(1, {
          error: { message: "boom", code: "RESUMED_WITH_ORIGINAL_CODE" },
          resume: { choice: "original", by: "alice@example.com", at: T1 },
          session: testSession({ state: "ENDED", endReason: "resumed" }),
        }),
        attempt(2, {
          error: { message: "boom", code: "ENDED_AS_FAILED" },
          resume: { choice: "fail", by: "the IDE", at: T1 },
          session: testSession({ state: "ENDED", endReason: "resumed" }),
        }),
        attempt(3, { status: "SUCCEEDED" }),
      ],
    };
    const html = render(detail([live]), "n0", { ...task, task: "parse", interactive: true });
    expect(html).toContain(
      `data-testid="attempt-1-resume" data-choice="original">resumed: original by alice@example.com at ${formatTimeOfDay(T1)}</div>`,
    );
    expect(html).toContain(
      `data-testid="attempt-2-resume" data-choice="fail">resumed: fail by the IDE at ${formatTimeOfDay(T1)}</div>`,
    );
    expect(html).not.toContain('data-testid="attempt-3-resume"');
  });

  it("says how the latest attempt's session was resumed, by the choice it recorded", () => {
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "parse",
      status: "FAILED",
      inputs: {},
      attempts: [
        {
          id: "x1.n0.a1",
          executionId: "x1",
          nodeId: "n0",
          number: 1,
          status: "FAILED",
          createdAt: T0,
          resume: { choice: "fail", by: "the IDE", at: T1 },
          session: testSession({ state: "ENDED", endReason: "resumed" }),
        },
      ],
    };
    const html = render(detail([live]), "n0", { ...task, task: "parse", interactive: true });
    expect(html).toContain("Session ended: resumed — the task was ended as failed.");
  });

  it("says there are no outputs yet while a node runs, and offers no Debug", () => {
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "double",
      status: "RUNNING",
      startedAt: T0,
      attempts: [],
    };
    const html = render(detail([live]), "n0", task);
    expect(html).toMatch(/data-testid="node-outputs"[^>]*>No outputs yet</);
    expect(html).not.toContain(">Debug</button>");
  });

  it("shows a failed node's error with its stack in a pre", () => {
    const error = { message: "boom", stack: "Error: boom\n    at task.ts:3:9" };
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "double",
      status: "FAILED",
      error,
      inputs: {},
      attempts: [],
    };
    const html = render(detail([live]), "n0", task);
    expect(html).toMatch(
      /data-testid="node-error"[^>]*>.*boom.*<pre class="error-stack"[^>]*>Error: boom\n {4}at task.ts:3:9<\/pre>/s,
    );
  });

  it("offers Download changes for a node that held a session, and shows the session", () => {
    const live: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "say_hello",
      status: "SUCCEEDED",
      inputs: { name: "Ada" },
      attempts: [
        {
          id: "x1.n0.a1",
          executionId: "x1",
          nodeId: "n0",
          number: 1,
          status: "SUCCEEDED",
          createdAt: T0,
          session: {
            id: "s1",
            attemptId: "x1.n0.a1",
            state: "ENDED",
            endReason: "resumed",
            maxIdleSeconds: 60,
            maxUnopenedSeconds: 60,
            limit: "idle",
            extensionProblems: [],
            hasChanges: true,
            createdAt: T0,
          },
        },
      ],
    };
    const html = render(detail([live]), "n0", { ...task, task: "say_hello", interactive: true });
    expect(html).toContain("Session ended: resumed");
    expect(html).toContain(">Download changes</button>");
    expect(html).toContain(">Debug</button>");
    // The execution still runs: what a fork would reuse is not final yet.
    expect(html).not.toContain("Fork with edits");
  });

  const edited = (hasChanges: boolean): NodeExecution => ({
    executionId: "x1",
    nodeId: "n0",
    task: "train",
    status: "FAILED",
    inputs: {},
    attempts: [
      {
        id: "x1.n0.a1",
        executionId: "x1",
        nodeId: "n0",
        number: 1,
        status: "FAILED",
        createdAt: T0,
        session: {
          id: "s1",
          attemptId: "x1.n0.a1",
          state: "ENDED",
          endReason: "idle",
          maxIdleSeconds: 60,
          maxUnopenedSeconds: 60,
          limit: "idle",
          extensionProblems: [],
          hasChanges,
          createdAt: T0,
        },
      },
    ],
  });
  const interactive = { ...task, task: "train", interactive: true };

  it("offers Fork with edits for a node whose session saved edits, once the execution ended", () => {
    const ended = detail([edited(true)], { status: "FAILED" });
    expect(render(ended, "n0", interactive)).toMatch(
      /<button type="button" title="Register a version with the edits[^"]*">Fork with edits<\/button>/,
    );
    expect(render(detail([edited(false)], { status: "FAILED" }), "n0", interactive)).not.toContain(
      "Fork with edits",
    );
    expect(render(ended, "n0", interactive, undefined, testMe({ default: "viewer" }))).toMatch(
      /<button type="button" disabled="" title="Needs the editor role in project default \(you are a viewer\)">Fork with edits<\/button>/,
    );
  });

  it("says where a reused node's outputs came from, and lists no attempts for it", () => {
    const reused: NodeExecution = {
      executionId: "x1",
      nodeId: "n0",
      task: "double",
      status: "SUCCEEDED",
      outputs: 42,
      reused: { from: "parent", executionId: "x0old", nodeId: "n0" },
      // Not the contract's (a reused node runs no attempt), so that hiding the section is what is tested.
      attempts: [
        {
          id: "x1.n0.a1",
          executionId: "x1",
          nodeId: "n0",
          number: 1,
          status: "SUCCEEDED",
          createdAt: T0,
        },
      ],
    };
    const html = render(detail([reused], { status: "SUCCEEDED" }), "n0", task, reused);
    expect(html).toMatch(
      /data-testid="node-reused" data-reused="parent">Not run: outputs reused from execution <a href="\/executions\/x0old\?node=n0">x0old<\/a> node n0<\/p>/,
    );
    expect(html).not.toContain("Not started yet");
    expect(html).not.toContain('data-testid="attempt-');
    expect(html).not.toContain('data-testid="node-logs"');
    expect(html).toMatch(/data-testid="node-outputs"[^>]*>42<\/pre>/);

    const cached = {
      ...reused,
      reused: { from: "cache" as const, executionId: "x9", nodeId: "n4" },
    };
    expect(render(detail([cached]), "n0", task, cached)).toContain(
      'data-reused="cache">Not run: cached outputs from execution <a href="/executions/x9?node=n4">x9</a> node n4</p>',
    );
  });

  it("lists a map node's elements, each selectable, instead of attempts and logs", () => {
    const map: NodeExecution = {
      executionId: "x1",
      nodeId: "n1",
      task: "square",
      status: "RUNNING",
      attempts: [],
    };
    const element = (i: number, status: NodeExecution["status"]): NodeExecution => ({
      executionId: "x1",
      nodeId: `n1[${i}]`,
      task: "square",
      parentNodeId: "n1",
      mapIndex: i,
      status,
      attempts: [],
    });
    const html = render(detail([map, element(1, "RUNNING"), element(0, "SUCCEEDED")]), "n1", {
      id: "n1",
      task: "square",
      kind: "map",
      interactive: false,
    });
    expect(html.indexOf('data-testid="element-n1[0]"')).toBeLessThan(
      html.indexOf('data-testid="element-n1[1]"'),
    );
    expect(html).toContain('data-testid="element-n1[1]" data-status="RUNNING"');
    expect(html).not.toContain('data-testid="node-logs"');
    expect(html).not.toContain(">Debug</button>");
  });

  it("names the map node of an element, to go back to it", () => {
    const element: NodeExecution = {
      executionId: "x1",
      nodeId: "n1[3]",
      task: "square",
      parentNodeId: "n1",
      mapIndex: 3,
      status: "QUEUED",
      attempts: [],
    };
    const html = render(detail([element]), "n1[3]", {
      id: "n1",
      task: "square",
      kind: "map",
      interactive: false,
    });
    expect(html).toMatch(/Element 3 of <button[^>]*>n1<\/button>/);
    expect(html).toContain('data-status="QUEUED"');
  });
});
