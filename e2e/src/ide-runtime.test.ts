/**
 * The IDE runtime checked where a user meets it first: `drydock up` installs it at start-up (before anything
 * is launched), and on a machine that cannot build it, says so there — what is missing, and how to fix it —
 * instead of failing the user's first interactive task. `drydock ide install` says the same.
 */
import { mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drydock, example } from "./harness.js";

let dir: string;
/** Apart from `dir`: the embedded PostgreSQL's user must be able to enter it. */
let dataDir: string;
/** A machine with Node and its usual commands but no compiler, make, python3 or apt-get, and nothing in its IDE directory. */
let bare: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-e2e-ide-runtime-"));
  dataDir = await mkdtemp(join(tmpdir(), "drydock-e2e-data-"));
  // The machine's commands (PostgreSQL's set-up needs some), less the build tools and apt-get.
  const bin = join(dir, "bin");
  await mkdir(bin);
  await symlink(process.execPath, join(bin, "node"));
  const left = new Set(["node", "cc", "gcc", "c++", "g++", "make", "python3", "apt-get"]);
  for (const from of [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
  ]) {
    for (const name of await readdir(from).catch(() => [])) {
      if (left.has(name)) continue;
      left.add(name);
      await symlink(join(from, name), join(bin, name));
    }
  }
  bare = {
    PATH: bin,
    DRYDOCK_IDE_DIR: join(dir, "ide"),
    DRYDOCK_HOME: join(dir, "home"),
    CI: "true",
  };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

const MISSING =
  "its native modules are built on this machine, which lacks a C compiler, a C++ compiler, make, python3 (node-gyp)";

describe("the IDE runtime at start-up", () => {
  it("drydock up --launch of an interactive workflow exits 1 at start-up, naming what is missing, and launches nothing", async () => {
    const up = await drydock(
      [
        "up",
        "--port",
        "0",
        "--data-dir",
        dataDir,
        "--launch",
        `${example("hello/workflow.ts")}:wf`,
      ],
      bare,
      60_000,
    );
    const out = up.stdout + up.stderr;

    expect(up.code, out).toBe(1);
    expect(out).toContain("Drydock is up.");
    expect(out).toContain(`IDE runtime: cannot install code-server`);
    expect(out).toContain(MISSING);
    expect(out).toContain(
      "To fix it: install a C compiler, a C++ compiler, make, python3 (node-gyp) with the system's package manager",
    );
    expect(out).toContain(
      "wf has an interactive task and the IDE runtime could not be installed (above): stopping Drydock",
    );
    expect(out).not.toContain("launched wf");
    // Nothing half-installed is left behind.
    expect(await readdir(join(dir, "ide"))).toEqual([]);
  }, 60_000);

  it("drydock ide install says the same and exits 1", async () => {
    const result = await drydock(["ide", "install"], bare);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(MISSING);
  });
});
