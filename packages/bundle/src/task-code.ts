/**
 * A task's code as the platform identifies it: the exact text of its `task(...)` call (options and function),
 * found with TypeScript's parser. `drydock register` computes it on the user's file and a fork on the patched
 * file, so the same text gives the same hash on either side.
 */
import type { TaskCode } from "@drydock/contracts";
import ts from "typescript";

import { sha256Hex } from "./tarball.js";

/** One `task(…)` or `x.task(…)` call of a file. */
interface TaskCall {
  node: ts.CallExpression;
  /** Where the call starts, and where its callee's name (`task`) starts: V8 reports one or the other. */
  start: number;
  nameStart: number;
  /** 0-based line of `start`. */
  line: number;
  /** The options' `name` when it is a string literal. */
  taskName: string | undefined;
}

/**
 * The `task(...)` call at `line`/`column` (1-based, where a V8 stack frame puts the call site) of a source file;
 * without a column, or when none starts there, the first call of `task` on that line. Undefined when none is.
 * @example taskCodeAt(text, "workflow.ts", 12, 23) // { sha256: "…", lines: [12, 30] }
 */
export function taskCodeAt(
  fileText: string,
  fileName: string,
  line: number,
  column?: number,
): TaskCode | undefined {
  const source = parse(fileText, fileName);
  const call = callAt(source, taskCalls(source), line, column);
  return call && codeOf(source, call);
}

/**
 * The code of task `name` in a source file: the call at `line`/`column` as `taskCodeAt` finds it, unless that
 * call names another task; else the one call whose options say `name: "<name>"` (for a call site that was not
 * source-mapped). Undefined when neither finds it.
 * @example findTaskCode(text, "workflow.ts", { name: "train", line: 12, column: 23 })
 */
export function findTaskCode(
  fileText: string,
  fileName: string,
  where: { name: string; line?: number; column?: number },
): TaskCode | undefined {
  const source = parse(fileText, fileName);
  const calls = taskCalls(source);
  const at = where.line === undefined ? undefined : callAt(source, calls, where.line, where.column);
  if (at && (at.taskName === undefined || at.taskName === where.name)) return codeOf(source, at);
  const named = calls.filter((c) => c.taskName === where.name);
  return named.length === 1 && named[0] ? codeOf(source, named[0]) : undefined;
}

function parse(fileText: string, fileName: string): ts.SourceFile {
  return ts.createSourceFile(
    fileName,
    fileText,
    ts.ScriptTarget.Latest,
    true,
    scriptKindOf(fileName),
  );
}

function taskCalls(source: ts.SourceFile): TaskCall[] {
  const calls: TaskCall[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = calleeName(node);
      if (callee?.text === "task") {
        const start = node.getStart(source);
        calls.push({
          node,
          start,
          nameStart: callee.getStart(source),
          line: source.getLineAndCharacterOfPosition(start).line,
          taskName: literalName(node),
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return calls;
}

function callAt(
  source: ts.SourceFile,
  calls: TaskCall[],
  line: number,
  column: number | undefined,
): TaskCall | undefined {
  if (!Number.isInteger(line) || line < 1 || line > source.getLineStarts().length) return undefined;
  const position =
    column === undefined ? undefined : positionOf(source, line - 1, Math.max(0, column - 1));
  const exact =
    position === undefined
      ? undefined
      : calls.find((c) => c.start === position || c.nameStart === position);
  return exact ?? calls.find((c) => c.line === line - 1);
}

function codeOf(source: ts.SourceFile, call: TaskCall): TaskCode {
  const end = call.node.getEnd();
  const first = source.getLineAndCharacterOfPosition(call.start).line + 1;
  const last = source.getLineAndCharacterOfPosition(end).line + 1;
  return { sha256: sha256Hex(source.text.slice(call.start, end)), lines: [first, last] };
}

/** `task` in `task(…)` and in `sdk.task(…)`. */
function calleeName(call: ts.CallExpression): ts.Identifier | undefined {
  const callee = call.expression;
  if (ts.isIdentifier(callee)) return callee;
  if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.name)) return callee.name;
  return undefined;
}

/** `"train"` in `task({ name: "train", … }, fn)`. */
function literalName(call: ts.CallExpression): string | undefined {
  const options = call.arguments[0];
  if (!options || !ts.isObjectLiteralExpression(options)) return undefined;
  for (const property of options.properties) {
    if (
      ts.isPropertyAssignment(property) &&
      (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name)) &&
      property.name.text === "name" &&
      ts.isStringLiteralLike(property.initializer)
    )
      return property.initializer.text;
  }
  return undefined;
}

function positionOf(source: ts.SourceFile, line: number, character: number): number | undefined {
  const starts = source.getLineStarts();
  const lineStart = starts[line];
  if (lineStart === undefined) return undefined;
  const lineEnd = starts[line + 1] ?? source.text.length;
  return lineStart + character < lineEnd ? lineStart + character : undefined;
}

function scriptKindOf(fileName: string): ts.ScriptKind {
  if (/\.tsx$/.test(fileName)) return ts.ScriptKind.TSX;
  if (/\.[cm]?ts$/.test(fileName)) return ts.ScriptKind.TS;
  if (/\.jsx$/.test(fileName)) return ts.ScriptKind.JSX;
  return ts.ScriptKind.JS;
}
