import { describe, expect, it } from "vitest";

import { analyzeOverride } from "./override.js";
import { buildTree, OVERRIDE_LABELS, shortJson } from "./tree.js";
import type { TreeNode } from "./tree.js";
import { sampleContext, WORKSPACE } from "./test/fixtures.js";

function find(nodes: TreeNode[], id: string): TreeNode {
  if (id === "override") return nodes.find((node) => node.id.startsWith("override/")) as TreeNode;
  for (const node of nodes) {
    if (node.id === id) return node;
    const inside = node.children && find(node.children, id);
    if (inside) return inside;
  }
  return undefined as unknown as TreeNode;
}

const none = { kind: "none" } as const;

describe("buildTree", () => {
  it("shows the execution, node, attempt, inputs, upstream and override, in that order", () => {
    const tree = buildTree({
      kind: "ready",
      context: sampleContext(),
      override: none,
      workspaceRoot: WORKSPACE,
    });
    expect(tree.map((n) => [n.label, n.description])).toEqual([
      ["Execution", "ex-42 · wf@v7"],
      ["Node", "n1 · say_hello"],
      ["Attempt", "#2"],
      ["Inputs", "2"],
      ["Upstream", "1"],
      ["Input override: none", undefined],
    ]);
  });

  it("lists one child per input with its value shortened, the whole value in the tooltip", () => {
    const long = "x".repeat(100);
    const tree = buildTree({
      kind: "ready",
      context: sampleContext({ inputs: { name: "world", config: { retries: 3 }, long } }),
      override: none,
    });
    const inputs = find(tree, "inputs");
    expect(inputs.expanded).toBe(true);
    expect(inputs.children?.map((c) => c.label)).toEqual([
      'name = "world"',
      'config = {"retries":3}',
      `long = "${"x".repeat(58)}…`,
    ]);
    expect(find(tree, "inputs/config").tooltip).toBe('config = {\n  "retries": 3\n}');
    expect(find(tree, "inputs/long").tooltip).toBe(`long = "${long}"`);
  });

  it("says when there are no inputs and no upstream nodes", () => {
    const tree = buildTree({
      kind: "ready",
      context: sampleContext({ inputs: {}, upstream: [] }),
      override: none,
    });
    expect(find(tree, "inputs")).toMatchObject({ description: "none", children: [] });
    expect(find(tree, "upstream")).toMatchObject({
      description: "none: the inputs came from the launch",
      children: [],
    });
  });

  it("lists the upstream nodes by task and node id", () => {
    const tree = buildTree({
      kind: "ready",
      context: sampleContext({
        upstream: [
          { nodeId: "n0", task: "fetch" },
          { nodeId: "n9", task: "merge" },
        ],
      }),
      override: none,
    });
    expect(find(tree, "upstream").children?.map((c) => `${c.label} ${c.description}`)).toEqual([
      "fetch n0",
      "merge n9",
    ]);
  });

  it("shows the first run's error with its workspace frames, the top one marked and each opening its file and line", () => {
    const firstRunError = {
      name: "TypeError",
      message: "name.trim is not a function\nmore detail",
      stack: [
        "TypeError: name.trim is not a function",
        "    at /opt/drydock/agent/dist/runner.js:1:1",
        `    at normalize (${WORKSPACE}/lib/names.ts:4:15)`,
        `    at sayHello (file://${WORKSPACE}/workflow.ts:9:10)`,
      ].join("\n"),
    };
    const tree = buildTree({
      kind: "ready",
      context: sampleContext({ firstRunError }),
      override: none,
      workspaceRoot: WORKSPACE,
    });
    expect(tree.map((n) => n.id)).toEqual([
      "execution",
      "node",
      "attempt",
      "inputs",
      "upstream",
      "first-run",
      "override/none",
    ]);
    const section = find(tree, "first-run");
    expect(section).toMatchObject({
      label: "First run failed",
      description: "name.trim is not a function",
      expanded: true,
    });
    expect(section.children?.map((c) => [c.label, c.description, c.action])).toEqual([
      ["TypeError: name.trim is not a function", undefined, undefined],
      [
        "normalize",
        "lib/names.ts:4 · top frame",
        { kind: "openFile", path: "lib/names.ts", line: 4, column: 15 },
      ],
      ["sayHello", "workflow.ts:9", { kind: "openFile", path: "workflow.ts", line: 9, column: 10 }],
    ]);
  });

  it("says so when no frame lies in the workspace, and leaves the section out without an error", () => {
    const firstRunError = { message: "boom", stack: "Error: boom\n    at /opt/x.js:1:1" };
    const tree = buildTree({
      kind: "ready",
      context: sampleContext({ firstRunError }),
      override: none,
      workspaceRoot: WORKSPACE,
    });
    expect(find(tree, "first-run").children?.map((c) => c.label)).toEqual([
      "Error: boom",
      "No frame of the stack lies in the workspace",
    ]);
    expect(
      find(buildTree({ kind: "ready", context: sampleContext(), override: none }), "first-run"),
    ).toBeUndefined();
  });

  it("shows a paused task as a 'Paused' item saying where, its stack in the tooltip, a click opening the line", () => {
    const paused = {
      reason: "exception" as const,
      file: "src/steps.ts",
      line: 12,
      message: "boom",
      stack: "Error: boom\n    at parse (src/steps.ts:12:11)",
      at: "2030-01-01T00:00:00.000Z",
      attachConfiguration: "Attach to Paused Task",
    };
    const tree = buildTree({
      kind: "ready",
      context: sampleContext({ paused }),
      override: none,
      workspaceRoot: WORKSPACE,
    });
    expect(tree.map((n) => n.id)).toEqual([
      "execution",
      "node",
      "attempt",
      "inputs",
      "upstream",
      "paused",
      "override/none",
    ]);
    const node = find(tree, "paused");
    expect(node).toMatchObject({
      label: "Paused",
      description: "paused at src/steps.ts:12: boom",
      icon: "debug-pause",
      action: { kind: "openFile", path: "src/steps.ts", line: 12, column: 1 },
    });
    expect(node.tooltip).toMatch(/"Attach to Paused Task" \(Run and Debug\)/);
    expect(node.tooltip).toMatch(/\n\nError: boom\n {4}at parse/);
    const before = find(
      buildTree({
        kind: "ready",
        context: sampleContext({
          paused: { ...paused, reason: "before", line: 3, message: "pause point" },
        }),
        override: none,
      }),
      "paused",
    );
    expect(before.description).toBe("paused before the task at src/steps.ts:3");
    // A file outside the workspace (or none) has nothing to open.
    const outside = buildTree({
      kind: "ready",
      context: sampleContext({ paused: { ...paused, file: "../lib/x.ts" } }),
      override: none,
    });
    expect(find(outside, "paused").action).toBeUndefined();
    expect(
      find(buildTree({ kind: "ready", context: sampleContext(), override: none }), "paused"),
    ).toBeUndefined();
  });

  it("shows an active override with the keys it changes, leaves out and adds", () => {
    const context = sampleContext();
    const override = analyzeOverride(
      JSON.stringify({ name: "Ada", verbose: true }),
      context.inputs,
    );
    const node = find(buildTree({ kind: "ready", context, override }), "override");
    expect(node).toMatchObject({
      label: OVERRIDE_LABELS.active,
      description: "name",
      contextValue: "drydock.override.active",
    });
    expect(OVERRIDE_LABELS.active).toBe("Input override: active (Interactive Debugging only)");
    expect(node.children?.map((c) => `${c.label} | ${c.description}`)).toEqual([
      'name = "Ada" | changed',
      "config | missing: the task gets no value",
      "verbose = true | not an input of the task",
    ]);
  });

  it("shows an override equal to the originals, and an invalid one with its error", () => {
    const context = sampleContext();
    const same = find(
      buildTree({
        kind: "ready",
        context,
        override: analyzeOverride(JSON.stringify(context.inputs), context.inputs),
      }),
      "override",
    );
    expect(same.children?.map((c) => c.label)).toEqual(["Same values as the original inputs"]);
    const invalid = find(
      buildTree({ kind: "ready", context, override: analyzeOverride("{", context.inputs) }),
      "override",
    );
    expect(invalid).toMatchObject({
      label: OVERRIDE_LABELS.invalid,
      contextValue: "drydock.override.invalid",
    });
    expect(invalid.children?.[0]?.label).toMatch(/^line 1, column 2: /);
  });

  it("gives the override's node an id per state, so VS Code shows an override's keys expanded when one appears", () => {
    const context = sampleContext();
    const ids = [undefined, "{}", "["].map((text) =>
      find(
        buildTree({ kind: "ready", context, override: analyzeOverride(text, context.inputs) }),
        "override",
      ),
    );
    expect(ids.map((node) => [node.id, node.expanded ?? false])).toEqual([
      ["override/none", false],
      ["override/active", true],
      ["override/invalid", true],
    ]);
  });

  it("opens the override for editing from its node, set or not", () => {
    const node = find(
      buildTree({ kind: "ready", context: sampleContext(), override: none }),
      "override",
    );
    expect(node).toMatchObject({
      contextValue: "drydock.override.none",
      action: { kind: "command", command: "drydock.editInputOverride" },
    });
  });

  it("gives every node a unique id", () => {
    const context = sampleContext({
      firstRunError: {
        message: "x",
        stack: `Error: x\n    at f (${WORKSPACE}/a.ts:1:1)\n    at g (${WORKSPACE}/a.ts:2:1)`,
      },
    });
    const ids: string[] = [];
    const walk = (nodes: TreeNode[]) =>
      nodes.forEach((n) => (ids.push(n.id), walk(n.children ?? [])));
    walk(
      buildTree({
        kind: "ready",
        context,
        override: analyzeOverride('{"name":"x","more":1}', context.inputs),
        workspaceRoot: WORKSPACE,
      }),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("shows a failed fetch as one node that retries, and loading as one node", () => {
    expect(buildTree({ kind: "error", message: "The Drydock agent is not answering" })).toEqual([
      expect.objectContaining({
        label: "The Drydock agent cannot be reached",
        description: "The Drydock agent is not answering",
        action: { kind: "command", command: "drydock.refresh" },
      }),
    ]);
    expect(buildTree({ kind: "loading" }).map((n) => n.label)).toEqual([
      "Asking the Drydock agent…",
    ]);
  });
});

describe("shortJson", () => {
  it("keeps short values whole and cuts long ones to the limit with an ellipsis", () => {
    expect(shortJson({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(shortJson("abcdef", 5)).toBe('"abc…');
    expect(shortJson("abcdef", 5)).toHaveLength(5);
    expect(shortJson(null)).toBe("null");
  });
});
