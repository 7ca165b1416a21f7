import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { testDatabase } from "../__tests__/postgres.js";
import { PendingSignIns } from "./pending-sign-ins.js";

let pg: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => {
  pg = await testDatabase();
});
afterAll(async () => {
  await pg.close();
});

describe("PendingSignIns", () => {
  it("keeps a value until it expires, gives it to one take only, and keeps kinds apart", async () => {
    let now = new Date("2026-12-07T10:00:00Z");
    const browser = new PendingSignIns<{ n: number }>(pg.db, "browser", 60_000, 10, () => now);
    const device = new PendingSignIns<{ n: number }>(pg.db, "device", 60_000, 10, () => now);
    const handle = await browser.put({ n: 1 });
    expect(handle).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await browser.get(handle)).toEqual({ n: 1 });
    expect(await device.get(handle)).toBeUndefined();
    await browser.update(handle, { n: 2 });
    const [first, second] = await Promise.all([browser.take(handle), browser.take(handle)]);
    expect([first, second].filter(Boolean)).toEqual([{ n: 2 }]);

    const short = await browser.put({ n: 3 }, 1_000);
    now = new Date(now.getTime() + 1_000);
    expect(await browser.get(short)).toBeUndefined();
    expect(await browser.take(short)).toBeUndefined();
  });

  it("keeps at most `capacity` of a kind: anyone may start sign-ins, the oldest go first", async () => {
    let now = new Date("2026-12-07T11:00:00Z");
    const store = new PendingSignIns<number>(pg.db, "device", 600_000, 3, () => now);
    const handles: string[] = [];
    for (let i = 0; i < 5; i++) {
      handles.push(await store.put(i));
      now = new Date(now.getTime() + 1_000);
    }
    const kept = await Promise.all(handles.map((h) => store.get(h)));
    expect(kept).toEqual([undefined, undefined, 2, 3, 4]);
  });
});
