import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Router } from "wouter";

import type { WorkflowVersion } from "../ui/types.js";
import { branchText, dirtyText, shortCommit, workflowVersionHref } from "./version-lineage.js";
import { VersionLineage } from "./VersionLineage.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

const version = (extra: Partial<WorkflowVersion> = {}): WorkflowVersion => ({
  project: "default",
  name: "pipeline",
  version: "v2fork",
  bundle: "b".repeat(64),
  entry: "pipeline.ts",
  spec: {
    name: "pipeline",
    inputs: {},
    required: [],
    nodes: [],
    output: { kind: "literal", value: null },
  },
  tasks: [],
  createdAt: "2030-01-01T00:00:00.000Z",
  ...extra,
});

const render = (w: WorkflowVersion) =>
  renderToStaticMarkup(
    createElement(Router, {
      ssrPath: "/workflows/pipeline",
      children: createElement(VersionLineage, { workflow: w }),
    }),
  );

describe("version lineage words", () => {
  it("abbreviates the commit, names the branch, counts the dirty files", () => {
    expect(shortCommit(COMMIT)).toBe("0123456");
    expect(branchText({ branch: "main" })).toBe("on main");
    expect(branchText({})).toBe("(detached HEAD)");
    expect(dirtyText({ dirty: false, dirtyFiles: [] })).toBeUndefined();
    expect(dirtyText({ dirty: true, dirtyFiles: ["a.ts"] })).toBe(
      "(uncommitted changes in 1 file)",
    );
    expect(dirtyText({ dirty: true, dirtyFiles: ["a.ts", "b.ts"] })).toBe(
      "(uncommitted changes in 2 files)",
    );
    expect(workflowVersionHref("my wf", "v1", "p")).toBe("/workflows/my%20wf?version=v1&project=p");
  });
});

describe("VersionLineage", () => {
  it("shows nothing for a version registered without an origin", () => {
    expect(render(version())).toBe("");
  });

  it("names the git commit and branch, the dirty files and the machine", () => {
    const html = render(
      version({
        origin: {
          host: "laptop",
          root: "/home/ada/pipeline",
          files: {},
          git: {
            toplevel: "/home/ada",
            commit: COMMIT,
            branch: "main",
            dirty: true,
            dirtyFiles: ["pipeline.ts", "util.ts"],
          },
        },
      }),
    );
    expect(html).toContain(
      `Source: git <code title="${COMMIT}" data-commit="${COMMIT}">0123456</code> on main <span class="version-dirty" title="pipeline.ts\nutil.ts">(uncommitted changes in 2 files)</span>`,
    );
    expect(html).toContain("registered from <code>laptop:/home/ada/pipeline</code>");
  });

  it("says a forked version's parent version, execution and node, its changed tasks and patch", () => {
    const patch = "--- a/pipeline.ts\n+++ b/pipeline.ts\n@@ -1 +1 @@\n-a\n+b\n";
    const html = render(
      version({
        forkedFrom: {
          version: "v1base",
          executionId: "x0abc",
          nodeId: "n3",
          sessionId: "s1",
          patch,
          changedTasks: ["train", "score"],
        },
      }),
    );
    expect(html).toMatch(/<section class="version-lineage" aria-label="Lineage"/);
    expect(html).toContain(
      'Forked from version <a href="/workflows/pipeline?version=v1base&amp;project=default">v1base</a> with edits from execution <a href="/executions/x0abc?node=n3">x0abc</a> node <code>n3</code>',
    );
    expect(html).toContain(
      "Changed tasks: <span><code>train</code></span><span>, <code>score</code></span>",
    );
    expect(html).toContain("<details><summary>Patch</summary>");
    expect(html).toContain("+++ b/pipeline.ts");
    expect(html).not.toContain("registered from");
  });
});
