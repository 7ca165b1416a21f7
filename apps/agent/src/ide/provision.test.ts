import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CODE_SERVER_VERSION, findCodeServer } from "./code-server.js";
import { CodeServerInstallError, ensureCodeServer } from "./provision.js";

let dir: string;
let closedPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-provision-"));
  // A port nothing listens on: npm's registry requests are refused at once.
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  closedPort = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, "close");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** npm pointed at the closed port, with its own empty cache, failing fast. */
const unreachableRegistry = (name: string) => ({
  ...process.env,
  npm_config_registry: `http://127.0.0.1:${closedPort}/`,
  npm_config_fetch_retries: "0",
  npm_config_fetch_timeout: "5000",
  npm_config_cache: join(dir, name, "npm-cache"),
  TMPDIR: join(dir, name, "tmp"),
});

async function freshCache(name: string) {
  await mkdir(join(dir, name, "tmp"), { recursive: true });
  return join(dir, name, "cache");
}

const lockPath = (cacheDir: string) => join(cacheDir, `code-server-${CODE_SERVER_VERSION}.lock`);

describe("code-server provisioning", () => {
  it("uses the code-server on PATH and installs nothing", async () => {
    const cacheDir = await freshCache("on-path");
    const progress: string[] = [];
    const bin = await ensureCodeServer({ cacheDir, pathEnv: process.env.PATH, onProgress: (l) => progress.push(l) });
    expect(bin).toBe(await findCodeServer({ cacheDir, pathEnv: process.env.PATH }));
    expect(progress).toEqual([]);
    await expect(readdir(cacheDir)).rejects.toThrow(/ENOENT/);
  }, 30_000);

  it("fails with the npm install step, its command and output, and leaves no half install or lock", async () => {
    const cacheDir = await freshCache("unreachable");
    const progress: string[] = [];
    const started = Date.now();
    const error = await ensureCodeServer({ cacheDir, pathEnv: "", env: unreachableRegistry("unreachable"), onProgress: (l) => progress.push(l) }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CodeServerInstallError);
    const { step, message } = error as CodeServerInstallError;
    expect(step).toBe("npm install");
    expect(message).toContain(`step "npm install" failed: \`npm install --prefix`);
    expect(message).toContain(`code-server@${CODE_SERVER_VERSION}\` exited with 1`);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).toContain("run infra/scripts/install-code-server.sh as root");
    expect(message).toContain(`put code-server ${CODE_SERVER_VERSION} on PATH`);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(progress[0]).toMatch(/is not on PATH or in the cache: installing it into/);
    expect(await readdir(cacheDir)).toEqual([]);
  }, 90_000);

  it("takes over a stale lock left by a dead agent", async () => {
    const cacheDir = await freshCache("stale");
    const dead = spawn("true");
    await once(dead, "exit");
    await mkdir(cacheDir, { recursive: true });
    await writeFile(lockPath(cacheDir), JSON.stringify({ pid: dead.pid, host: hostname() }));
    const progress: string[] = [];

    // Past the lock, it reaches (and fails at) the install itself.
    const error = await ensureCodeServer({ cacheDir, pathEnv: "", env: unreachableRegistry("stale"), onProgress: (l) => progress.push(l) }).catch((e: unknown) => e);
    expect((error as CodeServerInstallError).step).toBe("npm install");
    expect(progress).toContain(`code-server install: taking over a stale install lock (pid ${dead.pid} on ${hostname()})`);
    expect(await readdir(cacheDir)).toEqual([]);
  }, 90_000);

  it("waits while a live agent holds the lock, and goes on once it is gone", async () => {
    const cacheDir = await freshCache("live");
    const holder = spawn("sleep", ["60"]);
    await mkdir(cacheDir, { recursive: true });
    await writeFile(lockPath(cacheDir), JSON.stringify({ pid: holder.pid, host: hostname() }));
    const progress: string[] = [];
    const result = ensureCodeServer({ cacheDir, pathEnv: "", env: unreachableRegistry("live"), onProgress: (l) => progress.push(l) }).catch((e: unknown) => e);
    try {
      await expect.poll(() => progress, { timeout: 10_000 }).toContain(
        `code-server install: waiting for pid ${holder.pid} on ${hostname()}, which is installing code-server ${CODE_SERVER_VERSION}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await readdir(cacheDir)).toEqual([`code-server-${CODE_SERVER_VERSION}.lock`]);
    } finally {
      holder.kill("SIGKILL");
      await once(holder, "exit");
    }

    expect(((await result) as CodeServerInstallError).step).toBe("npm install");
    expect(await readdir(cacheDir)).toEqual([]);
  }, 90_000);

  // A real install from the npm registry, as an agent on an unprepared machine does it (about 2 minutes here).
  it("installs the pinned version into the cache once, where findCodeServer finds it", async () => {
    const cacheDir = await freshCache("real");
    const progress: string[] = [];
    const env = { ...process.env, TMPDIR: join(dir, "real", "tmp") };
    const bin = await ensureCodeServer({ cacheDir, pathEnv: "", env, onProgress: (l) => progress.push(l) });

    expect(bin).toBe(join(cacheDir, `code-server-${CODE_SERVER_VERSION}`, "node_modules", ".bin", "code-server"));
    expect(await findCodeServer({ cacheDir, pathEnv: "" })).toBe(bin);
    expect(progress.at(-1)).toMatch(new RegExp(`^code-server ${CODE_SERVER_VERSION.replace(/\./g, "\\.")} installed in \\d+ s: `));
    // ripgrep came from the system, not GitHub.
    expect(await readdir(join(dir, "real", "tmp"))).toEqual(expect.arrayContaining([expect.stringMatching(/^vscode-ripgrep-cache-/)]));
    expect(await readdir(cacheDir)).toEqual([`code-server-${CODE_SERVER_VERSION}`]);

    const again: string[] = [];
    expect(await ensureCodeServer({ cacheDir, pathEnv: "", env, onProgress: (l) => again.push(l) })).toBe(bin);
    expect(again).toEqual([]);
  }, 600_000);
});
