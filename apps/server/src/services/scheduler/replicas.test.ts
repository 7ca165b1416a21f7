/**
 * Server replicas on one real PostgreSQL: liveness by advisory lock, one sweep at a time, and a replica that
 * dies mid-execution taken over by another, with agents on an engine both reach (as on a cluster).
 */
import type { ExecutionEvent, JsonValue } from "@drydock/contracts";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import {
  computePipeline,
  mapSpec,
  pipelineSpec,
  registerWorkflow,
  testTask,
} from "../../__tests__/pipeline.js";
import { testDatabase } from "../../__tests__/postgres.js";
import type { Db } from "../../db/database.js";
import type { AttemptExit, AttemptLaunch, Executor } from "../../executor/executor.js";
import { createLogger } from "../../logger.js";
import { EventBus } from "../event-bus.js";
import { Scheduler } from "../scheduler.js";
import { JOBS, newReplicaId, Replica } from "./replicas.js";

let pg: Awaited<ReturnType<typeof testDatabase>>;
let db: Db;
beforeAll(async () => {
  pg = await testDatabase();
  db = pg.db;
});
afterAll(async () => {
  await pg.close();
});

/** Ends the database session that holds `replica`'s lock, as PostgreSQL does when its host dies. */
async function killLockSession(replica: string): Promise<void> {
  const { rows } = await sql<{ ended: boolean }>`
    SELECT pg_terminate_backend(l.pid) AS ended FROM pg_locks l
    JOIN server_replicas r ON l.locktype = 'advisory' AND l.objid = r.lock_key AND l.granted
    WHERE r.id = ${replica}`.execute(db);
  expect(rows.map((r) => r.ended)).toEqual([true]);
}

describe("Replica", () => {
  it("runs a loop's pass on one replica at a time", async () => {
    const a = await Replica.join(db, newReplicaId(), () => undefined);
    const b = await Replica.join(db, newReplicaId(), () => undefined);
    let release!: () => void;
    const passing = a.exclusively(JOBS.sweep, () => new Promise((r) => (release = r)));
    await vi.waitFor(() => expect(release).toBeDefined());
    expect(await b.exclusively(JOBS.sweep, async () => undefined)).toBe(false);
    release();
    expect(await passing).toBe(true);
    expect(await b.exclusively(JOBS.sweep, async () => undefined)).toBe(true);
    a.leave();
    b.leave();
    await db.deleteFrom("server_replicas").execute();
  });

  it("knows a replica ended once its lock session is gone, gives it to one taker at a time, and forgets it once taken over", async () => {
    const dead = await Replica.join(db, newReplicaId(), () => undefined);
    const lost = vi.fn();
    const dying = await Replica.join(db, newReplicaId(), lost);
    const b = await Replica.join(db, newReplicaId(), () => undefined);
    const c = await Replica.join(db, newReplicaId(), () => undefined);
    expect((await b.ended()).map((r) => r.id)).not.toContain(dying.id);

    dead.leave();
    await killLockSession(dying.id);
    await vi.waitFor(() => expect(lost).toHaveBeenCalledOnce());
    const [byB, byC] = await Promise.all([b.ended(), c.ended()]);
    const taken = [...byB, ...byC].map((r) => r.id).sort();
    expect(taken).toEqual([dead.id, dying.id].sort());
    // A takeover that failed lets go and keeps the row: the next look finds the replica again.
    for (const r of [...byB, ...byC]) await r.abandon();
    const again = await c.ended();
    expect(again.map((r) => r.id).sort()).toEqual([dead.id, dying.id].sort());
    for (const r of again) await r.release();
    expect(await b.ended()).toEqual([]);
    const rows = await db.selectFrom("server_replicas").select("id").execute();
    expect(rows.map((r) => r.id).sort()).toEqual([b.id, c.id].sort());
    b.leave();
    c.leave();
    await db.deleteFrom("server_replicas").execute();
  });
});

/**
 * One engine that several replicas' executors reach (a cluster): an agent launched through one replica can be
 * adopted and terminated through another. A replica that died is detached: it hears no exits any more.
 */
class SharedEngine {
  readonly launches: { attemptId: string; by: string }[] = [];
  private readonly running = new Set<string>();
  private readonly views = new Map<string, (id: string, exit: AttemptExit) => void>();
  constructor(
    private readonly agent: (attempt: AttemptLaunch) => Promise<void>,
    /** Agents run the next queued attempt of their execution when handed it (as local processes do). */
    private readonly warmAgents = false,
  ) {}

  executorFor(replica: string): Executor {
    return {
      kind: "local",
      isolation: "none",
      warmAgents: this.warmAgents,
      launch: async (attempt) => {
        this.launches.push({ attemptId: attempt.attemptId, by: replica });
        this.running.add(attempt.attemptId);
        void this.agent(attempt).then(() => this.exit(attempt.attemptId, 0));
        return { pid: 1 };
      },
      // A warm agent is found by the name it was launched as, whichever attempt it runs now.
      adopt: async (attemptId, _pid, agent) =>
        this.running.has(attemptId) || this.running.has(agent),
      handOver: () => false,
      terminate: async (attemptId) => this.exit(attemptId, 143),
      onExit: (listener) => this.views.set(replica, listener),
      shutdown: async () => undefined,
    };
  }

  detach(replica: string): void {
    this.views.delete(replica);
  }

  private exit(attemptId: string, code: number): void {
    if (!this.running.delete(attemptId)) return;
    for (const listener of this.views.values())
      listener(attemptId, { code, signal: null, tail: "" });
  }
}

/** A server replica whose executor reaches `engine`, running two attempts at once. */
function replicaOn(
  engine: SharedEngine,
  name: string,
  bus: EventBus,
  onReplicaLost?: () => void,
): Scheduler {
  return new Scheduler({
    db,
    executor: engine.executorFor(name),
    bus,
    log: createLogger("silent"),
    config: {
      maxParallel: 2,
      heartbeatTimeoutSeconds: 30,
      startTimeoutSeconds: 300,
      lostAttemptRetries: 1,
    },
    ...(onReplicaLost ? { onReplicaLost } : {}),
  });
}

describe("Scheduler replicas", () => {
  it("a replica killed mid-execution: another adopts its running agents and launches what it had queued, within a sweep; nothing runs twice", async () => {
    const bus = new EventBus();
    let gate!: () => void;
    const opened = new Promise<void>((resolve) => (gate = resolve));
    // Agents report to whichever replica is alive, as a load balancer in front of the API does.
    let reportTo: Scheduler | undefined;
    const engine = new SharedEngine(async (attempt) => {
      const to = () => reportTo as Scheduler;
      await to().attemptStarted(attempt.attemptId, 1);
      if (attempt.task.name === "square") await opened;
      const { rows } = await sql<{ task: string; inputs: Record<string, JsonValue> }>`
        SELECT n.task, n.inputs FROM attempts a JOIN node_executions n
        ON n.execution_id = a.execution_id AND n.node_id = a.node_id WHERE a.id = ${attempt.attemptId}`.execute(
        db,
      );
      const { task, inputs } = rows[0] as { task: string; inputs: Record<string, JsonValue> };
      await to().attemptSucceeded(attempt.attemptId, "f".repeat(64), computePipeline(task, inputs));
    });
    const replica = (name: string, onReplicaLost?: () => void) =>
      replicaOn(engine, name, bus, onReplicaLost);
    const lost = vi.fn();
    const a = replica("a", lost);
    await a.start();
    reportTo = a;

    const spec = pipelineSpec({ kind: "node", node: "n2" });
    await registerWorkflow(
      db,
      spec,
      [testTask("range", ["n"]), testTask("square", ["x", "k"]), testTask("sum", ["xs"])],
      "v1",
    );
    const events: ExecutionEvent[] = [];
    const done = new Promise<ExecutionEvent>((resolve) =>
      bus.subscribe("xr", (e) => {
        events.push(e);
        if (e.type === "execution" && ["SUCCEEDED", "FAILED"].includes(e.status)) resolve(e);
      }),
    );
    await a.startExecution({
      id: "xr",
      project: "default",
      workflow: spec.name,
      version: "v1",
      inputs: { count: 4 },
    });
    // Two squares run (maxParallel 2) and two wait in a's queue.
    await vi.waitFor(() =>
      expect(engine.launches.filter((l) => l.attemptId.includes("n1["))).toHaveLength(2),
    );
    const [owner] = await db
      .selectFrom("attempts")
      .select("replica")
      .where("status", "=", "QUEUED")
      .execute();
    expect(owner?.replica).toBeDefined();

    const b = replica("b");
    await b.start();
    // a dies: its lock session ends and it hears nothing more; agents now report to b.
    engine.detach("a");
    reportTo = b;
    const killedAt = Date.now();
    await killLockSession(owner?.replica as string);
    await vi.waitFor(() => expect(lost).toHaveBeenCalledOnce());
    await vi.waitFor(
      async () =>
        expect(
          await db
            .selectFrom("attempts")
            .select("id")
            .where("replica", "=", owner?.replica as string)
            .where("status", "in", ["QUEUED", "RUNNING"])
            .execute(),
        ).toEqual([]),
      { timeout: 5_000, interval: 50 },
    );
    const tookOverMs = Date.now() - killedAt;
    gate();
    expect(await done).toMatchObject({ status: "SUCCEEDED", result: 1 + 4 + 9 + 16 });
    console.log(`replica killed → its attempts taken over in ${tookOverMs} ms`);
    expect(tookOverMs).toBeLessThan(5_000);

    // Every attempt launched once: the two queued squares and the sum by b, none again.
    const ids = engine.launches.map((l) => l.attemptId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(engine.launches.filter((l) => l.by === "b").map((l) => l.attemptId)).toEqual(
      expect.arrayContaining(["xr.n1[2].a1", "xr.n1[3].a1", "xr.n2.a1"]),
    );
    const attempts = await db
      .selectFrom("attempts")
      .select(["id", "status"])
      .where("execution_id", "=", "xr")
      .execute();
    expect(attempts.every((x) => x.status === "SUCCEEDED" && x.id.endsWith(".a1"))).toBe(true);
    await b.stop();
    await a.stop();
  });

  it("a warm agent that asks for its next attempt while its server restarts is answered once the new one has joined, not told there is none", async () => {
    const bus = new EventBus();
    // The agents start their attempt and keep running it (a debugger, a long task): nothing exits.
    const engine = new SharedEngine(async (attempt) => {
      await a.attemptStarted(attempt.attemptId, 1);
      await new Promise(() => undefined);
    }, true);
    const replica = (name: string, onReplicaLost?: () => void) =>
      replicaOn(engine, name, bus, onReplicaLost);
    const lost = vi.fn();
    const a = replica("a", lost);
    await a.start();
    await registerWorkflow(
      db,
      mapSpec("warm", "hang", [1, 2, 3]),
      [testTask("hang", ["x"])],
      "v-warm",
    );
    await a.startExecution({
      id: "xw",
      project: "default",
      workflow: "warm",
      version: "v-warm",
      inputs: {},
    });
    await vi.waitFor(() => expect(engine.launches).toHaveLength(2));
    const first = engine.launches[0]?.attemptId as string;
    await a.attemptSucceeded(first, "f".repeat(64), 1);
    // The server answers the agent's request for its next attempt, and dies before the answer reaches it.
    const handed = await a.handOver(first);
    expect(handed?.attemptId).toBe("xw.n0[2].a1");
    const [{ replica: old } = { replica: null }] = await db
      .selectFrom("attempts")
      .select("replica")
      .where("id", "=", first)
      .execute();
    engine.detach("a");
    await killLockSession(old as string);
    await vi.waitFor(() => expect(lost).toHaveBeenCalledOnce());

    // The restarted server listens before it has joined; the agent asks again meanwhile.
    const b = replica("b");
    const asked = b.handOver(first);
    await b.start();
    const again = await asked;
    expect(again?.attemptId).toBe(handed?.attemptId);
    expect(again?.token).not.toBe(handed?.token);
    const rows = await db
      .selectFrom("attempts")
      .select(["id", "status", "agent"])
      .where("execution_id", "=", "xw")
      .orderBy("id")
      .execute();
    const second = engine.launches[1]?.attemptId as string;
    expect(rows).toEqual(
      [
        { id: first, status: "SUCCEEDED", agent: first },
        { id: second, status: "RUNNING", agent: second },
        { id: "xw.n0[2].a1", status: "RUNNING", agent: first },
      ].sort((x, y) => x.id.localeCompare(y.id)),
    );
    await b.abort("xw");
    await b.stop();
    await a.stop();
  });
});
