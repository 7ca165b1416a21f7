import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import { Router } from "wouter";

import { testMe, withIdentity } from "../__tests__/fixtures.js";
import type { Execution, Me, NodeExecution } from "../ui/types.js";

// api.ts opens a WebSocket client against `location` when imported; rendering on the server needs none of it.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String, appCode: () => undefined }));
const { ExecutionHeader } = await import("./ExecutionHeader.js");
const { RecoverDialog } = await import("./Recover.js");

const execution = (extra: Partial<Execution> = {}): Execution => ({
  id: "x1abc",
  project: "default",
  workflow: "wide",
  version: "v7",
  status: "RUNNING",
  overwriteCache: false,
  pauseBefore: [],
  inputs: { count: 3 },
  createdAt: "2030-01-01T00:00:00.000Z",
  ...extra,
});

function render(e: Execution, me: Me = testMe({ default: "editor" })): string {
  const header = withIdentity(me, createElement(ExecutionHeader, { execution: e }));
  return renderToStaticMarkup(
    createElement(
      QueryClientProvider,
      { client: new QueryClient() },
      createElement(Router, { ssrPath: "/executions/x1abc", children: header }),
    ),
  );
}

describe("ExecutionHeader", () => {
  it("names the workflow and version, links to it, and offers Abort while running", () => {
    const html = render(execution());
    expect(html).toMatch(/<a href="\/workflows\/wide\?project=default"[^>]*>wide<\/a>/);
    expect(html).toMatch(
      /version <a data-testid="execution-version" href="\/workflows\/wide\?version=v7&amp;project=default">v7<\/a>/,
    );
    expect(html).toContain('data-testid="execution-status" data-status="RUNNING"');
    expect(html).toContain('data-testid="execution-id">x1abc<');
    expect(html).toContain(">Abort</button>");
    expect(html).toContain("Inputs (count)");
  });

  it("shows a short result inline and no Abort once it succeeded", () => {
    const html = render(
      execution({ status: "SUCCEEDED", result: 997002, endedAt: "2030-01-01T00:01:01.000Z" }),
    );
    expect(html).toContain('data-testid="execution-result">997002<');
    expect(html).toContain('data-testid="execution-duration">1m 1s<');
    expect(html).not.toContain(">Abort</button>");
  });

  it("shows the error of a failed execution, its stack folded away", () => {
    const html = render(
      execution({
        status: "FAILED",
        error: { message: "node n0 (flaky) failed", stack: "Error: x\n    at y" },
        endedAt: "2030-01-01T00:00:05.000Z",
      }),
    );
    expect(html).toContain('data-testid="execution-error"');
    expect(html).toContain("node n0 (flaky) failed");
    expect(html).toMatch(/<details><summary>Stack trace<\/summary><pre class="error-stack"/);
  });

  it("links a debug run to the node it re-runs", () => {
    const html = render(execution({ debugOf: { executionId: "x0old", nodeId: "n1[2]" } }));
    expect(html).toMatch(
      /<a href="\/executions\/x0old\?node=n1%5B2%5D"[^>]*>debug of x0old n1\[2\]<\/a>/,
    );
  });

  it("says who launched it", () => {
    const html = render(execution({ createdBy: { id: "u-bob", name: "Bob" } }));
    expect(html).toContain('data-testid="execution-launched-by">launched by Bob</span>');
    expect(render(execution())).not.toContain("launched by");
  });

  it("disables Abort for a viewer, naming the role it needs", () => {
    const html = render(execution(), testMe({ default: "viewer" }));
    expect(html).toMatch(
      /<button type="button" class="danger execution-abort" disabled="" title="Needs the editor role in project default \(you are a viewer\)">Abort<\/button>/,
    );
    expect(render(execution())).toMatch(/class="danger execution-abort">Abort<\/button>/);
  });

  it("offers Recover once it failed or was aborted, or succeeded, but not while running or for a debug run", () => {
    const ended = { endedAt: "2030-01-01T00:00:05.000Z" };
    for (const status of ["FAILED", "ABORTED", "SUCCEEDED"] as const)
      expect(render(execution({ status, ...ended }))).toMatch(
        /<button type="button" class="execution-recover" title="[^"]*">Recover<\/button>/,
      );
    expect(render(execution())).not.toContain(">Recover</button>");
    expect(
      render(
        execution({ status: "FAILED", ...ended, debugOf: { executionId: "x0", nodeId: "n1" } }),
      ),
    ).not.toContain(">Recover</button>");
  });

  it("disables Recover for a viewer, naming the role it needs", () => {
    const html = render(execution({ status: "FAILED" }), testMe({ default: "viewer" }));
    expect(html).toMatch(
      /class="execution-recover" disabled="" title="Needs the editor role in project default \(you are a viewer\)">Recover<\/button>/,
    );
  });

  it("links a recovered execution to its parent and a forked one to the parent's node", () => {
    const recovered = render(
      execution({ parent: { executionId: "x0old", kind: "recover", force: [] } }),
    );
    expect(recovered).toMatch(
      /data-testid="execution-parent">Recovered from <a href="\/executions\/x0old">x0old<\/a><\/dd>/,
    );
    const forced = render(
      execution({ parent: { executionId: "x0old", kind: "recover", force: ["n1", "n2"] } }),
    );
    expect(forced).toContain("x0old</a>; ran again: n1, n2</dd>");
    const forked = render(
      execution({ parent: { executionId: "x0old", kind: "fork", nodeId: "n2", force: [] } }),
    );
    expect(forked).toMatch(
      /data-testid="execution-parent">Forked from <a href="\/executions\/x0old\?node=n2">x0old<\/a> \(node n2\)<\/dd>/,
    );
    expect(render(execution())).not.toContain("execution-parent");
  });

  it("notes an execution launched to overwrite the cache", () => {
    expect(render(execution({ overwriteCache: true }))).toContain(
      'data-testid="execution-overwrite-cache" title="Launched to overwrite the cache: cached tasks ran again and replaced their entries">cache overwritten</span>',
    );
    expect(render(execution())).not.toContain("cache overwritten");
  });

  it("names the pause points it was launched with", () => {
    expect(render(execution({ pauseBefore: ["n2", "n4"] }))).toMatch(
      /data-testid="execution-pause-before" title="[^"]*">pause points: n2, n4<\/span>/,
    );
    expect(render(execution())).not.toContain("pause points");
  });
});

describe("RecoverDialog", () => {
  const node = (nodeId: string, status: NodeExecution["status"], extra = {}): NodeExecution => ({
    executionId: "x1abc",
    nodeId,
    task: "double",
    status,
    attempts: [],
    ...extra,
  });
  const nodes = [
    node("n1", "SUCCEEDED"),
    node("n2", "SUCCEEDED", { task: "load" }),
    node("n3", "FAILED"),
    node("n4", "SKIPPED"),
    node("n2[0]", "SUCCEEDED", { parentNodeId: "n2", mapIndex: 0 }),
  ];
  const renderDialog = (e: Execution) =>
    renderToStaticMarkup(
      createElement(
        QueryClientProvider,
        { client: new QueryClient() },
        createElement(Router, {
          ssrPath: "/executions/x1abc",
          children: createElement(RecoverDialog, { execution: e, nodes, onClose: () => undefined }),
        }),
      ),
    );

  it("explains what is reused and offers every top-level node that succeeded, none ticked", () => {
    const html = renderDialog(execution({ status: "FAILED" }));
    expect(html).toContain(">Recover execution</h2>");
    expect(html).toContain(
      "Nodes that succeeded are reused; failed nodes and everything after them run again",
    );
    const labels = [...html.matchAll(/<input type="checkbox"\/> (Run [^<]*)<\/label>/g)].map(
      (m) => m[1],
    );
    expect(labels).toEqual(["Run n1 (double) again", "Run n2 (load) again"]);
    expect(html).toMatch(/<button type="button" class="primary">Start recovery<\/button>/);
  });

  it("asks for a node to run again before recovering an execution that succeeded", () => {
    const html = renderDialog(execution({ status: "SUCCEEDED" }));
    expect(html).toMatch(
      /<button type="button" class="primary" disabled="">Start recovery<\/button>/,
    );
    expect(html).toContain("Every node succeeded: tick at least one to run again.");
  });
});
