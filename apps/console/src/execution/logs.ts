/**
 * A task's log as the pane keeps it: chunks from `executions.tailLogs` appended in order. A re-subscription
 * (after the WebSocket reconnects) starts again from offset 0, so chunks already held are skipped by offset;
 * the text kept is capped, dropping the oldest lines.
 */
export const MAX_LOG_CHARS = 1_000_000;

export interface LogState {
  text: string;
  /** The byte offset the next chunk should start at. */
  offset: number;
  ended: boolean;
  /** Bytes dropped from the start to stay under the cap. */
  trimmed: boolean;
}

export const EMPTY_LOG: LogState = { text: "", offset: 0, ended: false, trimmed: false };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function appendLogChunk(
  state: LogState,
  chunk: { text: string; nextOffset: number; ended: boolean },
  max = MAX_LOG_CHARS,
): LogState {
  let text = chunk.text;
  if (chunk.nextOffset <= state.offset) {
    return chunk.ended && !state.ended ? { ...state, ended: true } : state;
  }
  const bytes = encoder.encode(text);
  const start = chunk.nextOffset - bytes.length;
  if (start < state.offset) text = decoder.decode(bytes.subarray(state.offset - start));
  let all = state.text + text;
  let trimmed = state.trimmed;
  if (all.length > max) {
    const cut = all.length - max;
    const newline = all.indexOf("\n", cut);
    all = all.slice(newline >= 0 && newline - cut < 4_096 ? newline + 1 : cut);
    trimmed = true;
  }
  return { text: all, offset: chunk.nextOffset, ended: chunk.ended, trimmed };
}
