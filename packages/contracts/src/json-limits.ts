/**
 * Limits on the JSON values a caller hands the control plane (launch inputs, task outputs). They are checked
 * before anything recursive (zod, JSON.stringify, the database) walks the value, so an over-deep or oversized
 * value is refused with the limit it broke instead of exhausting the stack.
 */

/** The deepest nesting of arrays and objects accepted (`{"a":[1]}` nests 2 levels). */
export const MAX_JSON_DEPTH = 100;
/** The most a launch's inputs may weigh as JSON text; larger data belongs in a blob a task reads. */
export const MAX_INPUTS_BYTES = 16 * 1024 * 1024;

/** How deep `value` nests, counting no further than `stopAbove` + 1 (the walk is iterative: any depth is safe). */
export function jsonDepth(value: unknown, stopAbove = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== "object" || item === null) continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > stopAbove) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === "object" && child !== null) pending.push([child, level]);
    }
  }
  return deepest;
}

/** UTF-8 length of a string, without a Buffer (contracts also load in browsers). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const MIB = 1024 * 1024;
/** `17.5 MiB (18350080 bytes)`, or `12 bytes` below a MiB. */
const size = (bytes: number) =>
  bytes < MIB
    ? `${bytes} bytes`
    : `${(bytes / MIB).toFixed(1).replace(/\.0$/, "")} MiB (${bytes} bytes)`;

/** What is wrong with `value` as `what` (e.g. "inputs") under the limits, naming the limit; undefined when it is within them. */
export function jsonLimitProblem(
  what: string,
  value: unknown,
  limits: { maxDepth?: number; maxBytes?: number } = {},
): string | undefined {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  if (jsonDepth(value, maxDepth) > maxDepth)
    return `${what} nest deeper than ${maxDepth} levels of arrays and objects (the limit is ${maxDepth})`;
  if (limits.maxBytes === undefined) return undefined;
  const text = JSON.stringify(value) as string | undefined;
  const bytes = text === undefined ? 0 : utf8Length(text);
  if (bytes > limits.maxBytes)
    return `${what} are ${size(bytes)} as JSON; the limit is ${size(limits.maxBytes)}: keep large data where a task can fetch it, and pass its location`;
  return undefined;
}
