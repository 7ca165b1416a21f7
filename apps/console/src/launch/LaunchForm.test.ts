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

describe("LaunchForm", () => {
  it("offers to overwrite the cache, unticked, after the inputs", () => {
    const html = renderToStaticMarkup(
      createElement(
        QueryClientProvider,
        { client: new QueryClient() },
        createElement(Router, {
          ssrPath: "/workflows/pipeline",
          children: withIdentity(
            testMe({ default: "editor" }),
            createElement(LaunchForm, { workflow }),
          ),
        }),
      ),
    );
    const option =
      /<input id="([^"]+)" type="checkbox" aria-describedby="[^"]+"\/><label for="([^"]+)">Overwrite cache \(run cached tasks again\)<\/label>/.exec(
        html,
      );
    expect(option?.[1]).toBeDefined();
    expect(option?.[2]).toBe(option?.[1]);
    expect(html.indexOf("Overwrite cache")).toBeGreaterThan(html.indexOf(">n</label>"));
  });
});
