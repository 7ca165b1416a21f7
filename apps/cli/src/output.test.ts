import type { ExecutionDetail, WorkflowVersion } from "@drydock/contracts";
import { describe, expect, it } from "vitest";

import { formatExecutionDetail, formatWorkflowVersion } from "./output.js";

const AT = "2026-12-06T10:00:00.000Z";
const LATER = "2026-12-06T10:00:02.000Z";

const node = (nodeId: string, task: string, extra: Partial<ExecutionDetail["nodes"][number]>) => ({
  executionId: "x2",
  nodeId,
  task,
  status: "SUCCEEDED" as const,
  attempts: [],
  startedAt: AT,
  endedAt: LATER,
  ...extra,
});

describe("executions get", () => {
  it("shows where a recovered execution came from and which nodes' outputs were reused", () => {
    const detail: ExecutionDetail = {
      execution: {
        id: "x2",
        project: "default",
        workflow: "pipeline",
        version: "v1",
        status: "SUCCEEDED",
        inputs: {},
        createdAt: AT,
        endedAt: LATER,
        parent: { executionId: "x1", kind: "recover", force: ["n1"] },
        overwriteCache: true,
      },
      nodes: [
        node("n0", "load", { reused: { from: "parent", executionId: "x1", nodeId: "n0" } }),
        node("n1", "clean", { reused: { from: "cache", executionId: "x0", nodeId: "n1" } }),
        node("n2", "train", {}),
      ],
    };
    expect(formatExecutionDetail(detail).split("\n")).toEqual([
      "execution x2  workflow pipeline (version v1)  SUCCEEDED  2.0s",
      "recovered from x1 (run again: n1)",
      "launched with --overwrite-cache: cached tasks ran again",
      "inputs: {}",
      "",
      "NODE  TASK   STATUS     ATTEMPTS  DURATION  OUTPUTS",
      "n0    load   SUCCEEDED  0         2.0s      reused from x1 n0",
      "n1    clean  SUCCEEDED  0         2.0s      cached from x0 n1",
      "n2    train  SUCCEEDED  0         2.0s",
    ]);
    const forked = formatExecutionDetail({
      execution: {
        ...detail.execution,
        parent: { executionId: "x1", kind: "fork", nodeId: "n2", force: [] },
        overwriteCache: false,
      },
      nodes: [node("n2", "train", {})],
    });
    expect(forked).toContain("\nforked from x1 node n2\ninputs: {}\n");
    expect(forked).not.toContain("OUTPUTS");
  });
});

describe("workflows get", () => {
  const version: WorkflowVersion = {
    project: "default",
    name: "pipeline",
    version: "v2",
    bundle: "a".repeat(64),
    entry: "workflow.ts",
    spec: {
      name: "pipeline",
      inputs: {},
      required: [],
      nodes: [],
      output: { kind: "literal", value: null },
    },
    tasks: [{ name: "load" }, { name: "train" }] as WorkflowVersion["tasks"],
    createdAt: AT,
  };

  it("shows the git commit a version was registered from, and whether it was dirty", () => {
    const text = formatWorkflowVersion({
      ...version,
      origin: {
        host: "laptop",
        root: "/home/ada/pipelines",
        files: {},
        git: {
          toplevel: "/home/ada",
          commit: "b".repeat(40),
          branch: "main",
          dirty: true,
          dirtyFiles: ["workflow.ts"],
        },
      },
    });
    expect(text).toContain("registered from: /home/ada/pipelines on laptop\n");
    expect(text).toContain(
      `git: commit ${"b".repeat(40)} on main with uncommitted changes (workflow.ts)`,
    );
  });

  it("shows a fork's lineage", () => {
    const text = formatWorkflowVersion({
      ...version,
      forkedFrom: {
        version: "v1",
        executionId: "x1",
        nodeId: "n2",
        sessionId: "s1",
        patch: "--- a/workflow.ts\n",
        changedTasks: ["train"],
      },
    });
    expect(text.split("\n").at(-1)).toBe("forked from v1 with edits from x1 n2 (changed: train)");
    expect(text).not.toContain("registered from:");
  });
});
