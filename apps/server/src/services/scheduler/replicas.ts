/**
 * Server replicas on one database. Each replica holds, for as long as it lives, a session-level advisory lock
 * on a key of its own, on a connection kept for it. The lock goes with the connection, so it goes however the
 * replica ends: a clean stop, a crash, a kill, its host lost (the session sends TCP keepalives, so PostgreSQL
 * ends it within a minute of the host going silent). A replica that can take another's lock knows that one
 * has ended, and takes over its open attempts (restart-recovery.ts); a replica's row stays until then.
 *
 * The same connection runs the background loops' turns: `exclusively` runs a loop's pass only where no other
 * replica runs it now (`pg_try_advisory_lock`), so two sweeps never judge the same attempt at once.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";

import type pg from "pg";

import { holdConnection } from "../../db/database.js";
import type { Db } from "../../db/database.js";

/** The first key of every Drydock advisory lock (the second names the lock): "DDRP". */
const NAMESPACE = 0x44445250;
/** Loops that only one replica may run at a time; replicas' own keys are positive. */
export const JOBS = { sweep: -1 } as const;

/** A new replica's id: the host it runs on (a container's id in Docker) and a random part. */
export function newReplicaId(): string {
  return `${hostname()}-${randomUUID().slice(0, 8)}`;
}

/** A replica that ended, whose lock this one holds until `release`. */
export interface EndedReplica {
  id: string;
  /** Forgets the replica (its row) and lets its lock go: call once its attempts are taken over. */
  release(): Promise<void>;
  /** Lets its lock go and keeps its row: the takeover failed, and this or another replica tries again. */
  abandon(): Promise<void>;
}

export class Replica {
  private lost: Error | undefined;

  private constructor(
    readonly id: string,
    private readonly db: Db,
    private readonly connection: { client: pg.PoolClient; release(): void },
  ) {}

  /**
   * Joins the replicas on `db` as `id` (newReplicaId: one id per start). `onLost` hears the lock's connection break: from then on other
   * replicas may take this one's attempts over, so it must stop scheduling.
   */
  static async join(db: Db, id: string, onLost: (error: Error) => void): Promise<Replica> {
    let replica: Replica | undefined;
    const connection = await holdConnection(db, (error) => {
      if (replica) replica.lost = error;
      onLost(error);
    });
    try {
      const { client } = connection;
      // A host that vanishes sends no FIN: keepalives let PostgreSQL end its session, and free its lock.
      await client.query(
        "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 6",
      );
      const { rows } = await client.query<{ key: number }>(
        "SELECT nextval('server_replica_keys')::int AS key",
      );
      const key = rows[0]?.key;
      if (key === undefined) throw new Error("no replica key");
      await client.query("SELECT pg_advisory_lock($1, $2)", [NAMESPACE, key]);
      await db
        .insertInto("server_replicas")
        .values({ id, lock_key: key, host: hostname() })
        .execute();
      replica = new Replica(id, db, connection);
      return replica;
    } catch (error) {
      connection.release();
      throw error;
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    if (this.lost) throw new Error("this replica's lock connection is lost", { cause: this.lost });
    return (await this.connection.client.query<R>(text, values)).rows;
  }

  private async tryLock(key: number): Promise<boolean> {
    const [row] = await this.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock($1, $2) AS locked",
      [NAMESPACE, key],
    );
    return row?.locked === true;
  }

  private async unlock(key: number): Promise<void> {
    await this.query("SELECT pg_advisory_unlock($1, $2)", [NAMESPACE, key]);
  }

  /** Runs `pass` unless another replica runs `job` now; says whether it ran. */
  async exclusively(job: number, pass: () => Promise<void>): Promise<boolean> {
    if (!(await this.tryLock(job))) return false;
    try {
      await pass();
    } finally {
      await this.unlock(job);
    }
    return true;
  }

  /**
   * The other replicas that have ended and that no live replica is taking over now: this one holds each one's
   * lock until it releases it. A replica whose lock another holds (itself, or a replica taking it over) is alive
   * for this purpose.
   */
  async ended(): Promise<EndedReplica[]> {
    const others = await this.db
      .selectFrom("server_replicas")
      .select(["id", "lock_key"])
      .where("id", "!=", this.id)
      .execute();
    const ended: EndedReplica[] = [];
    for (const other of others) {
      if (!(await this.tryLock(other.lock_key))) continue;
      ended.push({
        id: other.id,
        release: async () => {
          await this.db.deleteFrom("server_replicas").where("id", "=", other.id).execute();
          await this.unlock(other.lock_key);
        },
        abandon: () => this.unlock(other.lock_key),
      });
    }
    return ended;
  }

  /**
   * Lets the lock go. The row stays: the attempts this replica leaves open are taken over by the next replica
   * that looks (or by this server's next start).
   */
  leave(): void {
    this.connection.release();
  }
}
