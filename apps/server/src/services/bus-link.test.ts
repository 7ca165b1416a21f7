import type { ExecutionEvent } from "@drydock/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { testDatabase } from "../__tests__/postgres.js";
import { createLogger } from "../logger.js";
import { linkBusThroughPostgres } from "./bus-link.js";
import type { BusLink } from "./bus-link.js";
import { EventBus } from "./event-bus.js";

let pg: Awaited<ReturnType<typeof testDatabase>>;
const log = createLogger("silent");

beforeAll(async () => {
  pg = await testDatabase();
});
afterAll(async () => {
  await pg.close();
});

/** Two replicas' buses, each linked through the one database. */
async function twoReplicas(): Promise<{ a: EventBus; b: EventBus; close: () => Promise<void> }> {
  const a = new EventBus();
  const b = new EventBus();
  const links: BusLink[] = [
    await linkBusThroughPostgres(a, { url: pg.url, log }),
    await linkBusThroughPostgres(b, { url: pg.url, log }),
  ];
  return { a, b, close: async () => void (await Promise.all(links.map((l) => l.close()))) };
}

const executionEvent = (status: "RUNNING" | "SUCCEEDED", result?: unknown): ExecutionEvent => ({
  type: "execution",
  executionId: "x1",
  status,
  ...(result === undefined ? {} : { result: result as never }),
  at: "2026-12-07T00:00:00.000Z",
});

/** The backends connected to the database besides this test's own pool, that listen or notify. */
const linkConnections = async () =>
  (
    await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND (query LIKE 'LISTEN%' OR query LIKE 'SELECT pg_notify%')`.execute(pg.db)
  ).rows[0]?.n;

describe("the event bus across replicas (DRYDOCK_EVENTS=postgres)", () => {
  it("delivers what one replica publishes to the other's watchers, and to its own once", async () => {
    const { a, b, close } = await twoReplicas();
    const onA: ExecutionEvent[] = [];
    const onB: ExecutionEvent[] = [];
    const listB: string[] = [];
    let logsB = 0;
    a.subscribe("x1", (e) => onA.push(e));
    b.subscribe("x1", (e) => onB.push(e));
    b.subscribeList("default", (id) => listB.push(id));
    b.subscribeLog("x1.n0.a1", () => logsB++);

    a.publish("x1", executionEvent("RUNNING"));
    a.publishListChange("default", "x1");
    a.publishLog("x1.n0.a1");
    await vi.waitFor(() => expect(logsB).toBe(1), { timeout: 5_000 });

    expect(onB).toEqual([executionEvent("RUNNING")]);
    expect(listB).toEqual(["x1"]);
    // Its own replica's watchers heard it at once, and only once: the echo through PostgreSQL is skipped.
    expect(onA).toEqual([executionEvent("RUNNING")]);
    await close();
  });

  it("carries a message far over NOTIFY's 8000 bytes intact, non-ASCII text included, in publishing order", async () => {
    const { a, b, close } = await twoReplicas();
    const heard: ExecutionEvent[] = [];
    b.subscribe("x1", (e) => heard.push(e));
    const big = { text: 'é😀"\\\n'.repeat(20_000), n: 1 };
    const sent = [
      ...Array.from({ length: 100 }, () => executionEvent("RUNNING")),
      executionEvent("SUCCEEDED", big),
      executionEvent("RUNNING"),
    ];
    for (const event of sent) a.publish("x1", event);
    await vi.waitFor(() => expect(heard).toHaveLength(sent.length), { timeout: 10_000 });
    expect(heard).toEqual(sent);
    await close();
  });

  it("listens again when its connection is lost (a database restart, an administrator's kill)", async () => {
    const { a, b, close } = await twoReplicas();
    const heard: ExecutionEvent[] = [];
    b.subscribe("x1", (e) => heard.push(e));
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = current_database() AND query LIKE 'LISTEN%'`.execute(pg.db);
    // Published until heard: what went out while no connection listened is not replayed.
    await vi.waitFor(
      () => {
        a.publish("x1", executionEvent("RUNNING"));
        expect(heard.length).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 250 },
    );
    await close();
  });

  it("closes its connections, and a closed link sends nothing more", async () => {
    const { a, b, close } = await twoReplicas();
    const heard: ExecutionEvent[] = [];
    b.subscribe("x1", (e) => heard.push(e));
    a.publish("x1", executionEvent("RUNNING"));
    await vi.waitFor(() => expect(heard).toHaveLength(1), { timeout: 5_000 });
    await close();
    await vi.waitFor(async () => expect(await linkConnections()).toBe("0"), { timeout: 5_000 });

    a.publish("x1", executionEvent("SUCCEEDED"));
    await new Promise((r) => setTimeout(r, 300));
    expect(heard).toHaveLength(1);
  });
});
