import { describe, expect, it } from "vitest";

import { KeyedBatches } from "./batches.js";
import type { Pending } from "./batches.js";

/** A recorder that holds each batch until released, and keeps what it was given. */
function heldRecorder() {
  const batches: { key: string; items: number[] }[] = [];
  const releases: (() => void)[] = [];
  const batchesOf = new KeyedBatches<number, string>(
    async (key, batch: Pending<number, string>[]) => {
      batches.push({ key, items: batch.map((p) => p.item) });
      await new Promise<void>((resolve) => releases.push(resolve));
      for (const pending of batch)
        if (pending.item < 0) pending.reject(new Error(`refused ${pending.item}`));
        else pending.resolve(`${key}:${pending.item}`);
    },
  );
  const release = async () => {
    releases.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { batches, batchesOf, release };
}

describe("KeyedBatches", () => {
  it("records a lone item at once; what arrives for the key meanwhile goes as the next batch, whole", async () => {
    const { batches, batchesOf, release } = heldRecorder();
    const first = batchesOf.add("x1", 1);
    expect(batches).toEqual([{ key: "x1", items: [1] }]);
    const later = [batchesOf.add("x1", 2), batchesOf.add("x1", 3), batchesOf.add("x1", 4)];
    // Another key is not held up by this one.
    const other = batchesOf.add("x2", 9);
    expect(batches).toEqual([
      { key: "x1", items: [1] },
      { key: "x2", items: [9] },
    ]);
    await release();
    await release();
    expect(await first).toBe("x1:1");
    expect(await other).toBe("x2:9");
    expect(batches[2]).toEqual({ key: "x1", items: [2, 3, 4] });
    await release();
    expect(await Promise.all(later)).toEqual(["x1:2", "x1:3", "x1:4"]);
  });

  it("settles each item of a batch on its own, and a batch whose recording throws rejects its items, not the next batch's", async () => {
    const settled = new KeyedBatches<number, number>(async (_key, batch) => {
      if (batch.some((p) => p.item === 0)) throw new Error("the transaction failed");
      for (const pending of batch)
        if (pending.item < 0) pending.reject(new Error(`refused ${pending.item}`));
        else pending.resolve(pending.item * 10);
    });
    const results = await Promise.allSettled([
      settled.add("x", 0),
      settled.add("x", 1),
      settled.add("x", -2),
    ]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual([
      "Error: the transaction failed",
      10,
      "Error: refused -2",
    ]);
    expect(await settled.add("x", 3)).toBe(30);
  });
});
