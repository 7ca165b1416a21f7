import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import { Router } from "wouter";

import { testMe, withIdentity } from "../__tests__/fixtures.js";
import type { WorkflowVersion } from "../ui/types.js";

// api.ts opens a WebSocket client against `location` when imported; rendering on the server needs none of it.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String, appCode: () => undefined }));
const { LaunchForm } = await import("./LaunchForm.js");
const { launchRequest, togglePausePoint } = await import("./useLaunchForm.js");

const workflow: WorkflowVersion = {
  project: "default",
  name: "pipeline",
  version: "v1",
  bundle: "b".repeat(64),
  entry: "pipeline.ts",
  spec: {
    name: "pipeline",
    inputs: { n: { type: "integer" } },
    required: ["n"],
    nodes: [],
    output: { kind: "literal", value: null },
  },
  tasks: [],
  createdAt: "2030-01-01T00:00:00.000Z",
};

/** pipeline with n0 (load) feeding a fan-out n1 (square) feeding n2 (sum). */
const withNodes: WorkflowVersion = {
  ...workflow,
  spec: {
    ...workflow.spec,
    nodes: [
      { kind: "task", id: "n0", task: "load", inputs: {} },
      {
        kind: "map",
        id: "n1",
        task: "square",
        over: { x: { kind: "node", node: "n0" } },
        inputs: {},
      },
      { kind: "task", id: "n2", task: "sum", inputs: { xs: { kind: "node", node: "n1" } } },
    ],
  },
};

function render(w: WorkflowVersion): string {
  return renderToStaticMarkup(
    createElement(
      QueryClientProvider,
      { client: new QueryClient() },
      createElement(Router, {
        ssrPath: "/workflows/pipeline",
        children: withIdentity(
          testMe({ default: "editor" }),
          createElement(LaunchForm, { workflow: w }),
        ),
      }),
    ),
  );
}

describe("LaunchForm", () => {
  it("offers to overwrite the cache, unticked, after the inputs", () => {
    const html = render(workflow);
    const option =
      /<input id="([^"]+)" type="checkbox" aria-describedby="[^"]+"\/><label for="([^"]+)">Overwrite cache \(run cached tasks again\)<\/label>/.exec(
        html,
      );
    expect(option?.[1]).toBeDefined();
    expect(option?.[2]).toBe(option?.[1]);
    expect(html.indexOf("Overwrite cache")).toBeGreaterThan(html.indexOf(">n</label>"));
  });

  it("offers a pause point before each node of the version, none ticked", () => {
    const html = render(withNodes);
    expect(html).toMatch(
      /<fieldset class="launch-option pause-before"[^>]*><legend>Pause before<\/legend>/,
    );
    const ticks = [
      ...html.matchAll(
        /<input id="([^"]+)" type="checkbox"\/><label for="([^"]+)">(Pause before [^<]*)<\/label>/g,
      ),
    ];
    expect(ticks.map((m) => m[3])).toEqual([
      "Pause before n0",
      "Pause before n1",
      "Pause before n2",
    ]);
    for (const m of ticks) expect(m[2]).toBe(m[1]);
    expect(html).toContain('<span class="muted">square (each element)</span>');
    // A workflow without nodes has nothing to pause.
    expect(render(workflow)).not.toContain("Pause before");
  });

  it("sends the ticked pause points to executions.create, in the workflow's order", () => {
    const ids = withNodes.spec.nodes.map((n) => n.id);
    let ticked = togglePausePoint(ids, [], "n2", true);
    ticked = togglePausePoint(ids, ticked, "n0", true);
    expect(ticked).toEqual(["n0", "n2"]);
    expect(togglePausePoint(ids, ticked, "n0", false)).toEqual(["n2"]);
    expect(
      launchRequest(withNodes, { inputs: { n: 3 }, overwriteCache: false, pauseBefore: ticked }),
    ).toEqual({
      project: "default",
      workflow: "pipeline",
      version: "v1",
      inputs: { n: 3 },
      overwriteCache: false,
      pauseBefore: ["n0", "n2"],
    });
  });
});
