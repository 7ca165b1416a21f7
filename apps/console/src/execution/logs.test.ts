import { describe, expect, it } from "vitest";

import { appendLogChunk, EMPTY_LOG } from "./logs.js";

describe("appendLogChunk", () => {
  it("appends chunks in order and remembers where the next starts", () => {
    const one = appendLogChunk(EMPTY_LOG, { text: "hello\n", nextOffset: 6, ended: false });
    const two = appendLogChunk(one, { text: "wörld\n", nextOffset: 13, ended: true });
    expect(two).toEqual({ text: "hello\nwörld\n", offset: 13, ended: true, trimmed: false });
  });

  it("skips what it already holds when a re-subscription starts again from 0", () => {
    const held = appendLogChunk(EMPTY_LOG, { text: "a\nb\n", nextOffset: 4, ended: false });
    expect(appendLogChunk(held, { text: "a\n", nextOffset: 2, ended: false })).toBe(held);
    const overlap = appendLogChunk(held, { text: "a\nb\nc\n", nextOffset: 6, ended: false });
    expect(overlap.text).toBe("a\nb\nc\n");
  });

  it("takes the end from a chunk with nothing new", () => {
    const held = appendLogChunk(EMPTY_LOG, { text: "a\n", nextOffset: 2, ended: false });
    expect(appendLogChunk(held, { text: "", nextOffset: 2, ended: true }).ended).toBe(true);
  });

  it("keeps at most the cap, dropping whole lines from the start", () => {
    let state = EMPTY_LOG;
    for (let i = 0; i < 100; i += 1) {
      const line = `line ${String(i).padStart(3, "0")}\n`;
      state = appendLogChunk(
        state,
        { text: line, nextOffset: state.offset + line.length, ended: false },
        100,
      );
    }
    expect(state.text.length).toBeLessThanOrEqual(100);
    expect(state.text.startsWith("line ")).toBe(true);
    expect(state.text.endsWith("line 099\n")).toBe(true);
    expect(state.trimmed).toBe(true);
    expect(state.offset).toBe(900);
  });
});
