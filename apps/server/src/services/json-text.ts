import type { JsonValue } from "@drydock/contracts";
import { PREVIEW_CHARS } from "@drydock/contracts";

/** The first PREVIEW_CHARS characters of a JSON text, ending in "…" when cut (never inside a surrogate pair). */
export function previewOf(text: string): string {
  if (text.length <= PREVIEW_CHARS) return text;
  let end = PREVIEW_CHARS - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** A value as an executions row keeps it: its JSON text, and the size and preview lists show. */
export function jsonColumns(value: JsonValue): { text: string; bytes: number; preview: string } {
  const text = JSON.stringify(value);
  return { text, bytes: Buffer.byteLength(text), preview: previewOf(text) };
}
