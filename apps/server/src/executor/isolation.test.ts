/**
 * The local executor's isolation with real processes: two attempts' agents are stand-ins (a script that
 * listens on a session-like control socket and, for the second, probes the first and the server's files
 * with isolation-probe.ts), launched through LocalProcessExecutor as it launches real agents. As root
 * (CI), every probe must be refused; without root the executor must say it does not isolate.
 */
import { createRequire } from "node:module";
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { createLogger } from "../logger.js";
import { loadSecrets } from "../secrets.js";
import type { AttemptExit } from "./executor.js";
import {
  ATTEMPT_ID_RANGE,
  AttemptHomes,
  isolationSupport,
  prepareHomesDir,
  uidOf,
} from "./isolation.js";
import type { ProbeResult, ProbeTargets } from "./isolation-probe.js";
import { LocalProcessExecutor } from "./local-process.js";

const asRoot = process.getuid?.() === 0;
const waiting = { timeout: 20_000, interval: 50 };
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href;
const probeModule = pathToFileURL(join(import.meta.dirname, "isolation-probe.ts")).href;

/**
 * The stand-in agent: a session-like socket, a process that leaves its process group (as a daemonizing
 * task would), the probes when there are targets, and the report in its cwd.
 */
const STAND_IN = `
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { listenLikeASession, probeIsolation } from ${JSON.stringify(probeModule)};
const { socketPath } = await listenLikeASession();
const targets = await readFile(process.env.PROBE_TARGETS, "utf8").catch(() => undefined);
const results = targets ? await probeIsolation(JSON.parse(targets)) : [];
const straggler = spawn("sleep", ["600"], { detached: true, stdio: "ignore" });
straggler.unref();
await writeFile("report.json", JSON.stringify({ socketPath, uid: process.getuid(), results, straggler: straggler.pid }));
process.on("SIGTERM", () => process.exit(143));
`;

interface Report {
  socketPath: string;
  uid: number;
  results: ProbeResult[];
  straggler: number;
}

let base: string;
let dataDir: string;
let targetsFile: string;
const exits = new Map<string, AttemptExit>();
const executors: LocalProcessExecutor[] = [];

function executor(): LocalProcessExecutor {
  const ex = new LocalProcessExecutor({
    agentEntry: join(base, "stand-in.mjs"),
    attemptsDir: join(dataDir, "attempts"),
    cacheDir: join(dataDir, "cache"),
    homesDir: join(base, "homes"),
    endpoint: () => "http://127.0.0.1:9",
    log: createLogger("silent"),
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      NODE_OPTIONS: `--import=${tsx}`,
      PROBE_TARGETS: targetsFile,
      // No IDE runtime to share: the test is about what an attempt can reach, not about code-server.
      DRYDOCK_IDE_DIR: join(base, "no-ide"),
    },
    terminateGraceSeconds: 2,
  });
  ex.onExit((attemptId, exit) => exits.set(attemptId, exit));
  executors.push(ex);
  return ex;
}

const launchAttempt = (ex: LocalProcessExecutor, attemptId: string): Promise<{ pid: number }> =>
  ex.launch({
    attemptId,
    executionId: "x-isolation",
    token: `token-of-${attemptId}-${"s".repeat(16)}`,
    task: { name: "probe" },
  });

/** The stand-in's report, read as root through its working directory once it has written it. */
async function reportOf(pid: number): Promise<{ work: string; report: Report }> {
  const work = await readlink(`/proc/${pid}/cwd`);
  const report = await vi.waitFor(
    async () => JSON.parse(await readFile(join(work, "report.json"), "utf8")) as Report,
    waiting,
  );
  return { work, report };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "drydock-isolation-"));
  // The stand-in and its targets are the test's, readable by the attempts' users; the data dir is not.
  await chmod(base, 0o755);
  dataDir = join(base, "data");
  await mkdir(dataDir, { mode: 0o700 });
  await loadSecrets(dataDir);
  targetsFile = join(base, "targets.json");
  await writeFile(join(base, "stand-in.mjs"), STAND_IN, { mode: 0o644 });
});

afterAll(async () => {
  // What a failed run left running: every agent's process group.
  await Promise.all(executors.map((ex) => ex.shutdown()));
  await rm(base, { recursive: true, force: true });
});

describe("isolationSupport", () => {
  it("isolates only as root, and only when the attempts' users can read what the agent runs", () => {
    expect(isolationSupport([process.execPath], 1000)).toMatchObject({ mode: "none" });
    expect(isolationSupport([process.execPath], 0)).toEqual({ mode: "per-attempt-user" });
    const closed = isolationSupport(["/root/.drydock-never-there/main.js"], 0);
    expect(closed.mode).toBe("none");
    expect(closed.reason).toContain("/root/.drydock-never-there/main.js");
  });
});

describe("prepareHomesDir", () => {
  it("refuses a link, or (as root) a directory another user made first in the shared temp dir", async () => {
    const link = join(base, "homes-link");
    await symlink(base, link);
    await expect(prepareHomesDir(link)).rejects.toThrow(`${link}: it is not a directory`);
    if (!asRoot) return;
    const planted = join(base, "homes-planted");
    await mkdir(planted);
    await chown(planted, ATTEMPT_ID_RANGE.first + 1, ATTEMPT_ID_RANGE.first + 1);
    await expect(prepareHomesDir(planted)).rejects.toThrow(
      `${planted}: it is owned by uid ${ATTEMPT_ID_RANGE.first + 1}`,
    );
  });
});

describe("the default extensions of isolated attempts", () => {
  it("are installed once, by root, where attempts' users may read but not write them, and each agent is told where", async () => {
    if (!asRoot) return;
    const root = join(base, "homes-extensions");
    const homes = new AttemptHomes(root, createLogger("silent"));
    const a = await homes.create();
    const b = await homes.create();
    // The machine's IDE runtime (pnpm test installs it first), shared with the attempts' users.
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    // With the server's umask: what it makes is its own unless it opens it.
    const umask = process.umask(0o077);
    const [envA, envB] = await Promise.all([
      homes.agentEnv(a, env),
      homes.agentEnv(b, env),
    ]).finally(() => process.umask(umask));
    const shared = join(root, "extensions");
    expect(envA.DRYDOCK_SHARED_EXTENSIONS).toBe(shared);
    expect(envB.DRYDOCK_SHARED_EXTENSIONS).toBe(shared);

    // One set (no partial one beside it), holding the Drydock extension.
    const sets = await readdir(join(shared, "extension-sets"));
    expect(sets).toHaveLength(1);
    const record = JSON.parse(
      await readFile(join(shared, "extension-sets", sets[0] ?? "", ".drydock-set.json"), "utf8"),
    ) as { installed: string[] };
    expect(record.installed).toEqual(["drydock.drydock"]);
    // Everything in it is root's, readable by others, and writable by no one else.
    const open: string[] = [];
    const walk = async (path: string): Promise<void> => {
      const info = await stat(path);
      if (info.uid !== 0 || (info.mode & 0o022) !== 0 || (info.mode & 0o004) === 0)
        open.push(`${path} ${info.uid} ${(info.mode & 0o777).toString(8)}`);
      if (info.isDirectory())
        for (const entry of await readdir(path)) await walk(join(path, entry));
    };
    await walk(shared);
    expect(open).toEqual([]);

    await homes.remove(a.dir);
    await homes.remove(b.dir);
  }, 120_000);
});

describe("the local executor's attempts", () => {
  it("run as their own users: the data dir, another attempt's token, files and sockets are closed to them", async () => {
    const ex = executor();
    if (!asRoot) {
      expect(ex.isolation).toBe("none");
      return;
    }
    expect(ex.isolation).toBe("per-attempt-user");

    const b = await launchAttempt(ex, "attempt-b");
    const { work: workB, report: reportB } = await reportOf(b.pid);
    // The target is real: B's token is in its environment (root may read it).
    expect(await readFile(`/proc/${b.pid}/environ`, "utf8")).toContain("token-of-attempt-b");

    const targets: ProbeTargets = {
      unreadable: [
        join(dataDir, "secrets.json"),
        `/proc/${b.pid}/environ`,
        join(workB, "report.json"),
        join(dataDir, "attempts", "attempt-b", "agent.log"),
      ],
      unlistable: [dataDir, workB, join(base, "homes")],
      sockets: [reportB.socketPath],
      writable: ".",
    };
    await writeFile(targetsFile, JSON.stringify(targets), { mode: 0o644 });
    const a = await launchAttempt(ex, "attempt-a");
    const { work: workA, report: reportA } = await reportOf(a.pid);

    expect(reportA.results).toHaveLength(9);
    for (const result of reportA.results) {
      if (result.kind === "write") expect(result).toMatchObject({ reached: true });
      else expect(result).toMatchObject({ reached: false, code: "EACCES" });
    }
    // Each its own unprivileged user, owning only its own home (0700).
    expect(reportA.uid).toBeGreaterThanOrEqual(ATTEMPT_ID_RANGE.first);
    expect(reportB.uid).toBeGreaterThanOrEqual(ATTEMPT_ID_RANGE.first);
    expect(reportA.uid).not.toBe(reportB.uid);
    const homeA = await stat(join(workA, ".."));
    expect({ uid: homeA.uid, mode: homeA.mode & 0o777 }).toEqual({ uid: reportA.uid, mode: 0o700 });
    expect((await stat(dataDir)).mode & 0o077).toBe(0);

    // A restarted server adopts B by pid and still ends its whole group, then what left the group, then
    // removes its home.
    const restarted = executor();
    expect(await restarted.adopt("attempt-b", b.pid, "attempt-b")).toBe(true);
    expect(await uidOf(b.pid)).toBe(reportB.uid);
    await restarted.terminate("attempt-b");
    await vi.waitFor(() => expect(existsSync(join(workB, ".."))).toBe(false), waiting);
    expect(await uidOf(reportB.straggler)).toBeUndefined();
    await ex.terminate("attempt-a");
    await vi.waitFor(() => expect(exits.get("attempt-a")).toMatchObject({ code: 143 }), waiting);
    await vi.waitFor(() => expect(existsSync(join(workA, ".."))).toBe(false), waiting);
    expect(await uidOf(reportA.straggler)).toBeUndefined();
  }, 60_000);
});
