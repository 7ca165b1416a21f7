/**
 * The input override: a copy of the task's inputs, in the workspace, that `Interactive Debugging` reads
 * instead of the inputs the task received — and `Resume Task` never reads, so the originals stay the
 * originals. Parsing, validation and the comparison with the originals live here, free of `vscode`.
 */
import { parse as parseJsonc, printParseErrorCode } from "jsonc-parser";
import type { ParseError } from "jsonc-parser";

/** The override, relative to the workspace root; the agent's interactive entrypoint reads it when it exists. */
export const OVERRIDE_FILE = ".drydock/inputs.override.json";
/** The inputs the task received, written by the agent; never edited. */
export const ORIGINAL_INPUTS_FILE = ".drydock/inputs.json";

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type OverrideState =
  /** No override file: Interactive Debugging uses the original inputs. */
  | { kind: "none" }
  /** A file the entrypoint cannot use; `line` and `column` are 1-based. */
  | { kind: "invalid"; message: string; line?: number; column?: number }
  | {
      kind: "active";
      values: Record<string, JsonValue>;
      /** Inputs whose value differs from the original. */
      changed: string[];
      /** Inputs of the task the override leaves out: the task gets no value for them. */
      missing: string[];
      /** Keys that are not inputs of the task. */
      extra: string[];
    };

/** The file's first content: the original inputs, pretty-printed, for the user to edit. */
export function initialOverrideText(inputs: Record<string, unknown>): string {
  return `${JSON.stringify(inputs, null, 2)}\n`;
}

/** Reads an override file's text (undefined: no file) against the task's original inputs. */
export function analyzeOverride(
  text: string | undefined,
  originals: Record<string, unknown>,
): OverrideState {
  if (text === undefined) return { kind: "none" };
  const errors: ParseError[] = [];
  // Strict JSON: the entrypoint reads the file with JSON.parse, which knows no comments or trailing commas.
  parseJsonc(text, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const first = errors[0];
  if (first) {
    const { line, column } = lineAndColumn(text, first.offset);
    return {
      kind: "invalid",
      message: `line ${line}, column ${column}: ${describeParseError(printParseErrorCode(first.error))}`,
      line,
      column,
    };
  }
  const value = JSON.parse(text) as JsonValue;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return {
      kind: "invalid",
      message: `must be a JSON object of input names to values, not ${kindOf(value)}`,
    };
  }
  const keys = Object.keys(value);
  return {
    kind: "active",
    values: value,
    changed: keys.filter(
      (key) => Object.hasOwn(originals, key) && !jsonEqual(value[key], originals[key]),
    ),
    missing: Object.keys(originals).filter((key) => !Object.hasOwn(value, key)),
    extra: keys.filter((key) => !Object.hasOwn(originals, key)),
  };
}

/** 1-based line and column of a character offset (columns count UTF-16 units, as editors do). */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split(/\r\n|\r|\n/);
  return { line: lines.length, column: (lines[lines.length - 1] ?? "").length + 1 };
}

/** Equal as JSON values: object key order does not matter, array order does. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  return (
    ak.length === bk.length &&
    ak.every(
      (key) =>
        Object.hasOwn(b, key) &&
        jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
    )
  );
}

const PARSE_ERROR_TEXT: Record<string, string> = {
  InvalidSymbol: "unexpected character",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "a property name in double quotes is expected",
  ValueExpected: "a value is expected",
  ColonExpected: "':' is expected after the property name",
  CommaExpected: "',' is expected between entries",
  CloseBraceExpected: "'}' is expected",
  CloseBracketExpected: "']' is expected",
  EndOfFileExpected: "nothing may follow the object",
  InvalidCommentToken: "comments are not allowed in JSON",
  UnexpectedEndOfComment: "comments are not allowed in JSON",
  UnexpectedEndOfString: "the string is not closed",
  UnexpectedEndOfNumber: "the number is cut short",
  InvalidUnicode: "invalid \\u escape",
  InvalidEscapeCharacter: "invalid escape character",
  InvalidCharacter: "invalid character in a string",
};

function describeParseError(code: string): string {
  return PARSE_ERROR_TEXT[code] ?? `invalid JSON (${code})`;
}

function kindOf(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
