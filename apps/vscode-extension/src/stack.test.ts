import { describe, expect, it } from "vitest";

import { parseStackFrames, workspaceFrames } from "./stack.js";
import { WORKSPACE } from "./test/fixtures.js";

const BUNDLE = "/var/cache/drydock/bundles/sha-1";

const stack = [
  "Error: name must not be empty",
  "    at validate (/srv/attempts/a1/workspace/lib/validate.ts:12:11)",
  `    at async sayHello [as fn] (file://${WORKSPACE}/workflow.ts:8:3)`,
  "    at Object.<anonymous> (/srv/attempts/a1/workspace/node_modules/zod/index.js:1:1)",
  "    at new Runner (/opt/drydock/agent/dist/runner.js:40:9)",
  "    at node:internal/process/task_queues:95:5",
  "    at async Promise.all (index 0)",
  `    at ${WORKSPACE}/lib/with space.ts:2:4`,
].join("\n");

describe("parseStackFrames", () => {
  it("reads `at fn (file:line:col)`, `at file:line:col` and file:// URLs, and skips node: and native frames", () => {
    expect(parseStackFrames(stack)).toEqual([
      { fn: "validate", file: `${WORKSPACE}/lib/validate.ts`, line: 12, column: 11 },
      { fn: "async sayHello [as fn]", file: `${WORKSPACE}/workflow.ts`, line: 8, column: 3 },
      {
        fn: "Object.<anonymous>",
        file: `${WORKSPACE}/node_modules/zod/index.js`,
        line: 1,
        column: 1,
      },
      { fn: "new Runner", file: "/opt/drydock/agent/dist/runner.js", line: 40, column: 9 },
      { file: `${WORKSPACE}/lib/with space.ts`, line: 2, column: 4 },
    ]);
  });

  it("decodes percent-escapes in file URLs and keeps brackets inside paths", () => {
    expect(
      parseStackFrames(
        "    at run (file:///tmp/my%20dir/x.ts:1:2)\n    at go (/tmp/a (copy)/y.ts:3:4)",
      ),
    ).toEqual([
      { fn: "run", file: "/tmp/my dir/x.ts", line: 1, column: 2 },
      { fn: "go", file: "/tmp/a (copy)/y.ts", line: 3, column: 4 },
    ]);
  });

  it("takes the calling file's location for eval'd code", () => {
    expect(parseStackFrames("    at eval (eval at load (/w/a.ts:5:6), <anonymous>:1:1)")).toEqual([
      { fn: "eval", file: "/w/a.ts", line: 5, column: 6 },
    ]);
  });

  it("finds nothing in a message without frames", () => {
    expect(parseStackFrames("Error: boom")).toEqual([]);
  });
});

describe("workspaceFrames", () => {
  it("keeps the workspace's own sources, top frame first, as workspace-relative paths", () => {
    expect(
      workspaceFrames(stack, { workspaceRoot: WORKSPACE }).map((f) => [f.path, f.line, f.column]),
    ).toEqual([
      ["lib/validate.ts", 12, 11],
      ["workflow.ts", 8, 3],
      ["lib/with space.ts", 2, 4],
    ]);
  });

  it("does not take a sibling folder sharing the root's prefix for the workspace", () => {
    expect(
      workspaceFrames(`    at f (${WORKSPACE}-old/workflow.ts:1:1)`, { workspaceRoot: WORKSPACE }),
    ).toEqual([]);
  });

  it("maps a first run from another copy of the sources onto the workspace through the task's entry", () => {
    const firstRun = [
      "Error: boom",
      `    at helper (${BUNDLE}/lib/helper.ts:3:9)`,
      `    at sayHello (${BUNDLE}/workflow.ts:8:3)`,
      `    at load (${BUNDLE}/node_modules/tsx/dist/x.js:1:1)`,
      "    at run (/opt/drydock/agent/dist/runner.js:40:9)",
    ].join("\n");
    expect(
      workspaceFrames(firstRun, { workspaceRoot: WORKSPACE, entry: "workflow.ts" }).map(
        (f) => `${f.path}:${f.line}`,
      ),
    ).toEqual(["lib/helper.ts:3", "workflow.ts:8"]);
    expect(workspaceFrames(firstRun, { workspaceRoot: WORKSPACE })).toEqual([]);
  });
});
