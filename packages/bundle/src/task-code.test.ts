import { createHash } from "node:crypto";

import { describe, expect, it } from "vitest";

import { findTaskCode, taskCodeAt } from "./task-code.js";

const FILE = [
  'import { task, vscode } from "@drydock/sdk";', // 1
  'import * as sdk from "@drydock/sdk";', // 2
  "", // 3
  "export const a = task(", // 4
  '  { name: "a", inputs: {}, output: z.number() },', // 5
  "  async () => 1,", // 6
  ");", // 7
  'export const b = task({ name: "b" }, () => 2); export const c = task({ name: "c" }, () => 3);', // 8
  'export const d = sdk.task({ name: "d" }, vscode(() => 4));', // 9
  "const plain = notTask(1);", // 10
  "",
].join("\n");

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("taskCodeAt", () => {
  it("hashes the exact text of the task(...) call at a V8 call site and gives its lines", () => {
    expect(taskCodeAt(FILE, "workflow.ts", 4, 18)).toEqual({
      sha256: sha256(
        'task(\n  { name: "a", inputs: {}, output: z.number() },\n  async () => 1,\n)',
      ),
      lines: [4, 7],
    });
  });

  it("tells two calls on one line apart by column, and takes the first without one", () => {
    const b = taskCodeAt(FILE, "workflow.ts", 8, 18);
    const c = taskCodeAt(FILE, "workflow.ts", 8, 65);
    expect(b?.sha256).toBe(sha256('task({ name: "b" }, () => 2)'));
    expect(c?.sha256).toBe(sha256('task({ name: "c" }, () => 3)'));
    expect(taskCodeAt(FILE, "workflow.ts", 8)).toEqual(b);
    // A column that is no call's start falls back to the line.
    expect(taskCodeAt(FILE, "workflow.ts", 8, 3)).toEqual(b);
  });

  it("finds sdk.task(...), whose call site V8 puts at the property name", () => {
    const d = taskCodeAt(FILE, "workflow.ts", 9, 22);
    expect(d).toEqual({
      sha256: sha256('sdk.task({ name: "d" }, vscode(() => 4))'),
      lines: [9, 9],
    });
  });

  it("changes when the options or the function change, not when the text around the call does", () => {
    const base = taskCodeAt(FILE, "workflow.ts", 4, 18);
    const options = FILE.replace('name: "a", inputs', 'name: "a", retries: 1, inputs');
    const body = FILE.replace("async () => 1", "async () => 2");
    const around = `// a comment\n${FILE.replace("const plain = notTask(1);", "const plain = 2;")}`;
    expect(taskCodeAt(options, "workflow.ts", 4, 18)?.sha256).not.toBe(base?.sha256);
    expect(taskCodeAt(body, "workflow.ts", 4, 18)?.sha256).not.toBe(base?.sha256);
    expect(taskCodeAt(around, "workflow.ts", 5, 18)).toEqual({ ...base, lines: [5, 8] });
  });

  it("is undefined where no task call starts", () => {
    expect(taskCodeAt(FILE, "workflow.ts", 10)).toBeUndefined();
    expect(taskCodeAt(FILE, "workflow.ts", 5)).toBeUndefined();
    expect(taskCodeAt(FILE, "workflow.ts", 400)).toBeUndefined();
    expect(taskCodeAt(FILE, "workflow.ts", 0)).toBeUndefined();
  });

  it("parses JavaScript and TSX files too", () => {
    const js = 'export const a = task({ name: "a" }, () => 1);\n';
    expect(taskCodeAt(js, "workflow.mjs", 1, 18)?.lines).toEqual([1, 1]);
    const tsx = 'export const a = task({ name: "a" }, () => <div>{1}</div>);\n';
    expect(taskCodeAt(tsx, "workflow.tsx", 1, 18)?.sha256).toBe(
      sha256('task({ name: "a" }, () => <div>{1}</div>)'),
    );
  });
});

describe("findTaskCode", () => {
  const a = taskCodeAt(FILE, "workflow.ts", 4, 18);
  const c = taskCodeAt(FILE, "workflow.ts", 8, 65);

  it("takes the call at the call site when it names that task", () => {
    expect(findTaskCode(FILE, "workflow.ts", { name: "a", line: 4, column: 18 })).toEqual(a);
    expect(findTaskCode(FILE, "workflow.ts", { name: "c", line: 8, column: 65 })).toEqual(c);
  });

  it("finds the call by the name in its options when the call site is off (not source-mapped)", () => {
    expect(findTaskCode(FILE, "workflow.ts", { name: "c", line: 1, column: 71 })).toEqual(c);
    expect(findTaskCode(FILE, "workflow.ts", { name: "c", line: 8 })).toEqual(c);
    expect(findTaskCode(FILE, "workflow.ts", { name: "a" })).toEqual(a);
  });

  it("is undefined for a name no call has, or one that several calls have", () => {
    expect(findTaskCode(FILE, "workflow.ts", { name: "zz", line: 1 })).toBeUndefined();
    const twice = `${FILE}export const a2 = task({ name: "a" }, () => 5);\n`;
    expect(findTaskCode(twice, "workflow.ts", { name: "a" })).toBeUndefined();
    expect(findTaskCode(twice, "workflow.ts", { name: "a", line: 4 })).toEqual(a);
  });
});
