import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import { Router } from "wouter";

import { testMe, withIdentity } from "../__tests__/fixtures.js";
import type { Execution, Me } from "../ui/types.js";

// api.ts opens a WebSocket client against `location` when imported; rendering on the server needs none of it.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String, appCode: () => undefined }));
const { ExecutionHeader } = await import("./ExecutionHeader.js");

const execution = (extra: Partial<Execution> = {}): Execution => ({
  id: "x1abc",
  project: "default",
  workflow: "wide",
  version: "v7",
  status: "RUNNING",
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
    expect(html).toContain("version v7");
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
});
