/**
 * The data directory, its database and start-up, probed as another local user would. `drydock up` used to
 * run its PostgreSQL as a superuser `drydock`/`drydock` on 127.0.0.1 (anyone could `COPY … TO PROGRAM`), keep
 * blobs, inputs and logs world-readable, let a second `drydock up` on the same directory stop the first one's
 * database, and answer an unusable data directory with a stack trace.
 *
 * The probes switch to the user nobody (setpriv), so they need root, as the suite runs in CI.
 */
import { spawn } from "node:child_process";
import { chmod, lstat, mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  CLI,
  ROOT,
  drydock,
  fixture,
  processTable,
  removeStack,
  startStack,
  waitFor,
} from "../harness.js";
import type { Stack } from "../harness.js";

/** node-postgres, from the server's dependencies: the probes speak PostgreSQL's protocol as psql would. */
const PG = createRequire(join(ROOT, "apps/server/package.json")).resolve("pg");
const NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];

let stack: Stack;
const temps: string[] = [];
beforeAll(async () => {
  expect(process.getuid?.(), "these probes switch to the user nobody, which takes root").toBe(0);
  stack = await startStack();
});
afterAll(async () => {
  if (stack) await removeStack(stack);
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node …args` as the user nobody. */
function asNobody(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("setpriv", [...NOBODY, process.execPath, ...args], {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface PgConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Signs in as nobody would: "signed in", or what refused it (an errno or a SQLSTATE). */
async function signInAsNobody(config: PgConfig): Promise<string> {
  const script = `
    const pg = require(process.argv[1]);
    const client = new pg.Client({ ...JSON.parse(process.argv[2]), connectionTimeoutMillis: 5000 });
    client.connect().then(
      () => { console.log("signed in"); return client.end(); },
      (e) => console.log(e.code ?? e.message),
    );`;
  const { stdout, stderr } = await asNobody(["-e", script, PG, JSON.stringify(config)]);
  return stdout.trim() || stderr.trim();
}

/** The stack's postmaster: its pid, port, and socket directory ("" when it has none). */
async function postmaster(
  dataDir: string,
): Promise<{ pid: number; port: number; socketDir: string }> {
  const row = (await processTable()).find((p) => p.cmdline.includes(` -D ${join(dataDir, "pg")} `));
  if (!row) throw new Error(`no PostgreSQL runs on ${dataDir}/pg`);
  const socket = /unix_socket_directories=(?:"([^"]*)"|(\S*))/.exec(row.cmdline);
  return {
    pid: row.pid,
    port: Number(/ -p (\d+)/.exec(row.cmdline)?.[1]),
    socketDir: socket?.[1] ?? socket?.[2] ?? "",
  };
}

/** TCP ports a process listens on, from /proc: its socket inodes matched against /proc/net/tcp{,6}. */
async function tcpListeners(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; column 10 is the inode.
      if (cols[3] === "0A" && inodes.has(cols[9] ?? ""))
        ports.push(parseInt(cols[1]?.split(":")[1] ?? "", 16));
    }
  }
  return ports;
}

/** How the server itself signs in: the password it keeps in secrets.json, over its socket (servers before kept none: drydock/drydock on TCP). */
async function serverCredentials(dataDir: string): Promise<PgConfig> {
  const secrets = JSON.parse(await readFile(join(dataDir, "secrets.json"), "utf8")) as {
    databasePassword?: string;
  };
  const { port, socketDir } = await postmaster(dataDir);
  return secrets.databasePassword
    ? {
        host: socketDir,
        port,
        user: "drydock",
        password: secrets.databasePassword,
        database: "drydock",
      }
    : { host: "127.0.0.1", port, user: "drydock", password: "drydock", database: "drydock" };
}

interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<{ rows: unknown[] }>;
  end(): Promise<void>;
}

async function queryAsServer<T>(dataDir: string, text: string): Promise<T[]> {
  const pg = createRequire(import.meta.url)(PG) as { Client: new (config: PgConfig) => PgClient };
  const client = new pg.Client(await serverCredentials(dataDir));
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

describe("the embedded PostgreSQL, seen from another local user", () => {
  it("listens on no TCP port, and neither the old password over TCP nor the socket lets another user in", async () => {
    const { pid, port, socketDir } = await postmaster(stack.dataDir);
    expect(await tcpListeners(pid), "PostgreSQL's TCP listeners").toEqual([]);
    expect(
      await signInAsNobody({
        host: "127.0.0.1",
        port,
        user: "drydock",
        password: "drydock",
        database: "drydock",
      }),
    ).toBe("ECONNREFUSED");
    // Even with the server's own password, the socket's directory is closed to others.
    const { password } = await serverCredentials(stack.dataDir);
    expect(
      await signInAsNobody({
        host: socketDir || join(stack.dataDir, "pg"),
        port,
        user: "drydock",
        password,
        database: "drydock",
      }),
    ).toBe("EACCES");
  });

  it("signs the server in as a role that is not a superuser, which cannot run programs", async () => {
    expect(
      await queryAsServer(
        stack.dataDir,
        "SELECT current_user AS role, rolsuper FROM pg_roles WHERE rolname = current_user",
      ),
    ).toEqual([{ role: "drydock", rolsuper: false }]);
    await expect(
      queryAsServer(stack.dataDir, "COPY (SELECT 1) TO PROGRAM 'true'"),
    ).rejects.toMatchObject({ code: "42501" });
  });
});

/** Every file and directory under `dir` that its group or others may use (the data dir itself may let PostgreSQL's group pass). */
async function openToOthers(dir: string): Promise<string[]> {
  const open: string[] = [];
  const top = (await lstat(dir)).mode & 0o777;
  if (top & 0o067) open.push(`${top.toString(8)} ${dir}`);
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    const stat = await lstat(path).catch(() => undefined);
    if (!stat || stat.isSymbolicLink()) continue;
    if (stat.mode & 0o077) open.push(`${(stat.mode & 0o777).toString(8)} ${entry}`);
  }
  return open;
}

describe("the data directory", () => {
  it("after a run with an input, a log and a blob (its code bundle), holds nothing its group or others may read, and nobody can list or read it", async () => {
    const r = await drydock(
      ["run", "--remote", "--wait", fixture("slow.ts"), "slow", "--seconds", "0"],
      stack.env,
    );
    expect(r.code, r.stderr).toBe(0);
    const id = /execution (x[a-z0-9]+) started/.exec(r.stderr + r.stdout)?.[1] ?? "";
    const { nodes } = await stack.api.executions.get.query({ id });
    const attempt = nodes[0]?.attempts[0]?.id ?? "";
    expect((await stack.api.executions.logs.query({ attemptId: attempt })).text).toContain(
      "sleeping 0s",
    );
    const files = (await readdir(stack.dataDir, { recursive: true })).map((f) =>
      join(stack.dataDir, f),
    );
    // A small output is kept in the database (it came inside agent.complete); the bundle is a blob.
    const blob = files.find((f) => f.includes(join("blobs", "bundles", "")) && f.endsWith(".tgz"));
    const log = files.find((f) => f.includes(join("logs", "")) && f.includes(attempt));
    expect(blob, "the run's code bundle").toBeDefined();
    expect(log, "the attempt's log").toBeDefined();

    expect(await openToOthers(stack.dataDir)).toEqual([]);

    const script = `
      const fs = require("node:fs");
      const tryIt = (fn) => { try { fn(); return "read"; } catch (e) { return e.code; } };
      console.log(JSON.stringify([tryIt(() => fs.readdirSync(process.argv[1])), ...process.argv.slice(2).map((f) => tryIt(() => fs.readFileSync(f)))]));`;
    const probe = await asNobody([
      "-e",
      script,
      stack.dataDir,
      join(stack.dataDir, "secrets.json"),
      blob ?? "",
      log ?? "",
    ]);
    expect(JSON.parse(probe.stdout || "null"), probe.stderr).toEqual([
      "EACCES",
      "EACCES",
      "EACCES",
      "EACCES",
    ]);
  });
});

/** What `drydock up` printed on stderr besides its progress line ("starting Drydock …"). */
const complaint = (stderr: string) =>
  stderr.split("\n").filter((line) => line.trim() && !line.startsWith("starting Drydock"));

/** `drydock up` once more: how it exits, or, if it comes up, stopped again and reported as "up". */
function upAgain(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "up", "--port", "0", ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: "true", ...env },
    });
    let out = "";
    let up = false;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (!up && out.includes("Drydock is up")) {
        up = true;
        child.kill("SIGTERM");
      }
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: up ? "up" : (code ?? -1), stderr }));
  });
}

describe("a second drydock up on the same data directory", () => {
  it("exits non-zero naming the directory and the running server's pid; the first keeps answering, its execution unchanged", async () => {
    const seconds = `${700 + Math.floor(Math.random() * 1_000)}.${Date.now() % 1_000_000}`;
    const r = await drydock(
      ["run", "--remote", fixture("slow.ts"), "slow", "--seconds", seconds],
      stack.env,
    );
    expect(r.code, r.stderr).toBe(0);
    const id = /execution (x[a-z0-9]+) started/.exec(r.stdout)?.[1] ?? "";
    const sleeper = await waitFor("the task to run", async () =>
      (await processTable()).find((p) => p.cmdline === `sleep ${seconds}`),
    );
    const before = await stack.api.executions.get.query({ id });

    const second = await upAgain(["--data-dir", stack.dataDir], stack.env);
    expect(second.code, second.stderr).toBe(1);
    expect(complaint(second.stderr), "one line").toEqual([expect.stringContaining(stack.dataDir)]);
    expect(second.stderr).toContain(`pid ${stack.process.pid}`);

    const after = await stack.api.executions.get.query({ id });
    expect(after.execution.status).toBe("RUNNING");
    expect(after.nodes.map((n) => n.attempts.map((a) => [a.id, a.status]))).toEqual(
      before.nodes.map((n) => n.attempts.map((a) => [a.id, a.status])),
    );
    expect((await processTable()).some((p) => p.pid === sleeper.pid)).toBe(true);
    expect((await stack.api.projects.list.query()).map((p) => p.id)).toContain("default");
    await stack.api.executions.abort.mutate({ id });
  });
});

describe("drydock up on a data directory it cannot write", () => {
  it("exits non-zero with one line naming the directory and the cause: under a file, and (as nobody) under a read-only directory", async () => {
    const underFile = await upAgain(["--data-dir", "/dev/null/drydock"], stack.env);
    expect(underFile.code, underFile.stderr).not.toBe(0);
    expect(complaint(underFile.stderr), "one line").toEqual([
      expect.stringContaining("/dev/null/drydock"),
    ]);
    expect(underFile.stderr).toContain("not a directory");

    const parent = await mkdtemp(join(tmpdir(), "drydock-readonly-"));
    temps.push(parent);
    await chmod(parent, 0o555);
    const home = await mkdtemp(join(tmpdir(), "drydock-nobody-home-"));
    temps.push(home);
    await chmod(home, 0o777);
    const dataDir = join(parent, "data");
    const readOnly = await asNobody([CLI, "up", "--port", "0", "--data-dir", dataDir], {
      DRYDOCK_HOME: home,
      HOME: home,
      CI: "true",
    });
    expect(readOnly.code, readOnly.stderr).not.toBe(0);
    expect(complaint(readOnly.stderr), "one line").toEqual([expect.stringContaining(dataDir)]);
    expect(readOnly.stderr).toContain("permission denied");
  });
});
