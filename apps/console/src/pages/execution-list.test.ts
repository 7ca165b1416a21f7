import { describe, expect, it } from "vitest";

import type { ExecutionSummary } from "../ui/types.js";
import {
  executionListKey,
  filtersOfKey,
  filtersSearch,
  mergeListedExecution,
  readFilters,
} from "./execution-list.js";

function execution(
  id: string,
  minute: number,
  patch: Partial<ExecutionSummary> = {},
): ExecutionSummary {
  return {
    id,
    project: "default",
    workflow: "wf",
    version: "v1",
    status: "RUNNING",
    overwriteCache: false,
    pauseBefore: [],
    inputsPreview: "{}",
    inputsBytes: 2,
    createdAt: new Date(Date.UTC(2025, 0, 1, 12, minute)).toISOString(),
    ...patch,
  };
}

const ids = (list: readonly ExecutionSummary[]) => list.map((e) => e.id);

describe("filters in the URL", () => {
  it("reads known statuses and a workflow, and drops what the server would refuse", () => {
    expect(readFilters(new URLSearchParams("status=FAILED&workflow=wf"))).toEqual({
      status: "FAILED",
      workflow: "wf",
    });
    expect(readFilters(new URLSearchParams("status=bogus&workflow="))).toEqual({});
  });

  it("writes only the filters that are set", () => {
    expect(filtersSearch({ status: "RUNNING" })).toEqual({ status: "RUNNING" });
    expect(filtersSearch({})).toEqual({});
  });

  it("round-trips filters through the query key", () => {
    expect(filtersOfKey(executionListKey("default", { workflow: "wf" }))).toEqual({
      workflow: "wf",
    });
    expect(
      filtersOfKey(executionListKey("default", { status: "ABORTED", workflow: "wf" })),
    ).toEqual({ status: "ABORTED", workflow: "wf" });
    expect(executionListKey("default", {})).not.toEqual(
      executionListKey("default", { status: "FAILED" }),
    );
  });
});

describe("mergeListedExecution", () => {
  const list = [execution("c", 3), execution("b", 2), execution("a", 1)];

  it("puts a new execution on top", () => {
    expect(ids(mergeListedExecution(list, execution("d", 4), {}))).toEqual(["d", "c", "b", "a"]);
  });

  it("updates a row in place when its status changes", () => {
    const merged = mergeListedExecution(list, execution("b", 2, { status: "SUCCEEDED" }), {});
    expect(ids(merged)).toEqual(["c", "b", "a"]);
    expect(merged[1]?.status).toBe("SUCCEEDED");
    expect(list[1]?.status).toBe("RUNNING");
  });

  it("removes a row that no longer matches the status filter", () => {
    expect(
      ids(
        mergeListedExecution(list, execution("b", 2, { status: "FAILED" }), { status: "RUNNING" }),
      ),
    ).toEqual(["c", "a"]);
  });

  it("adds an older execution that now matches, in start order", () => {
    const failed = [
      execution("c", 3, { status: "FAILED" }),
      execution("a", 1, { status: "FAILED" }),
    ];
    expect(
      ids(
        mergeListedExecution(failed, execution("b", 2, { status: "FAILED" }), { status: "FAILED" }),
      ),
    ).toEqual(["c", "b", "a"]);
  });

  it("ignores executions outside the filters", () => {
    expect(
      mergeListedExecution(list, execution("d", 4, { workflow: "other" }), { workflow: "wf" }),
    ).toBe(list);
    expect(mergeListedExecution(list, execution("d", 4), { status: "FAILED" })).toBe(list);
  });

  it("keeps the list within its limit", () => {
    expect(ids(mergeListedExecution(list, execution("d", 4), {}, 3))).toEqual(["d", "c", "b"]);
    expect(mergeListedExecution(list, execution("z", 0), {}, 3)).toBe(list);
  });
});
