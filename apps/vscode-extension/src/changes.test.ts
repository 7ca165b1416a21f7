import { describe, expect, it } from "vitest";

import {
  ALL_CHANGES_LABEL,
  documentKey,
  NO_CHANGES_MESSAGE,
  originalDocuments,
  pickLabel,
  planShowChanges,
} from "./changes.js";
import { sampleChanges, WORKSPACE } from "./test/fixtures.js";

describe("planShowChanges", () => {
  it("says there is nothing to show without changed files", () => {
    expect(planShowChanges({ patch: "", files: [] }, WORKSPACE, 1)).toEqual({
      kind: "none",
      message: NO_CHANGES_MESSAGE,
    });
    expect(NO_CHANGES_MESSAGE).toBe("No changes against the registered sources");
  });

  it("opens one changed file directly: the registered text on the left, the workspace file on the right", () => {
    const plan = planShowChanges(
      { patch: "p", files: [{ path: "workflow.ts", original: "old\n", status: "modified" }] },
      WORKSPACE,
      3,
    );
    expect(plan).toEqual({
      kind: "single",
      entry: {
        path: "workflow.ts",
        status: "modified",
        original: { scheme: "drydock-original", path: "/workflow.ts", query: "v=3" },
        originalText: "old\n",
        edited: { scheme: "file", path: `${WORKSPACE}/workflow.ts`, query: "" },
        title: "workflow.ts (registered ↔ edited)",
      },
    });
  });

  it("offers a pick of several files plus the whole patch", () => {
    const plan = planShowChanges(sampleChanges(), `${WORKSPACE}/`, 1);
    if (plan.kind !== "pick") throw new Error(`expected a pick, got ${plan.kind}`);
    expect(plan.patch).toBe(sampleChanges().patch);
    expect(plan.entries.map(pickLabel)).toEqual([
      { label: "workflow.ts", description: "modified" },
      { label: "lib/new.ts", description: "added" },
      { label: "lib/gone.ts", description: "deleted" },
    ]);
    expect(ALL_CHANGES_LABEL).toBe("All changes (patch)");
  });

  it("diffs an added file against an empty document, and a deleted file against an empty read-only one", () => {
    const plan = planShowChanges(sampleChanges(), WORKSPACE, 2);
    if (plan.kind !== "pick") throw new Error(`expected a pick, got ${plan.kind}`);
    const [, added, deleted] = plan.entries;
    expect(added).toMatchObject({
      originalText: "",
      edited: { scheme: "file", path: `${WORKSPACE}/lib/new.ts` },
      title: "lib/new.ts (registered ↔ edited)",
    });
    expect(deleted).toMatchObject({
      originalText: "gone\n",
      edited: { scheme: "drydock-original", path: "/lib/gone.ts", query: "v=2&deleted" },
      title: "lib/gone.ts (registered ↔ deleted)",
    });
  });

  it("gives each Show Changes fresh document URIs, so a later one never shows an earlier registered text", () => {
    const first = planShowChanges(sampleChanges(), WORKSPACE, 1);
    const second = planShowChanges(sampleChanges(), WORKSPACE, 2);
    if (first.kind !== "pick" || second.kind !== "pick") throw new Error("expected picks");
    expect(documentKey(first.entries[0]!.original)).not.toBe(
      documentKey(second.entries[0]!.original),
    );
  });
});

describe("originalDocuments", () => {
  it("holds each registered text under its document's key, and an empty right side for deletions", () => {
    const plan = planShowChanges(sampleChanges(), WORKSPACE, 5);
    if (plan.kind !== "pick") throw new Error("expected a pick");
    expect(Object.fromEntries(originalDocuments(plan.entries))).toEqual({
      "/workflow.ts?v=5": "old\n",
      "/lib/new.ts?v=5": "",
      "/lib/gone.ts?v=5": "gone\n",
      "/lib/gone.ts?v=5&deleted": "",
    });
  });
});
