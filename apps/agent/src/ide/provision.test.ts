import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { findCodeServer } from "./code-server.js";
import { CodeServerInstallError, ensureCodeServer, together } from "./provision.js";
import { defaultIdeDir, IDE_RUNTIME, runtimeName } from "./runtime.js";

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

async function freshIdeDir(name: string) {
  await mkdir(join(dir, name, "tmp"), { recursive: true });
  return join(dir, name, "ide");
}

const lockPath = (ideDir: string) => join(ideDir, `${runtimeName()}.lock`);
const VERSION = IDE_RUNTIME.codeServer;

describe("IDE runtime provisioning", () => {
  it("uses the runtime already installed and installs nothing", async () => {
    const ideDir = defaultIdeDir(process.env);
    const progress: string[] = [];
    const bin = await ensureCodeServer({
      ideDir,
      env: process.env,
      onProgress: (l) => progress.push(l),
    });
    expect(bin).toBe(await findCodeServer({ ideDir }));
    expect(progress).toEqual([]);
  }, 30_000);

  it("fails at the Node runtime's download, naming its command and output, and leaves no half install or lock", async () => {
    const ideDir = await freshIdeDir("unreachable");
    const progress: string[] = [];
    const started = Date.now();
    const error = await ensureCodeServer({
      ideDir,
      env: unreachableRegistry("unreachable"),
      systemPackages: false,
      onProgress: (l) => progress.push(l),
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CodeServerInstallError);
    const { step, message } = error as CodeServerInstallError;
    expect(step).toBe("node runtime");
    expect(message).toContain(
      `step "node runtime" failed: \`npm pack ${IDE_RUNTIME.node.packages[process.arch]?.name}@${IDE_RUNTIME.node.version}`,
    );
    expect(message).toMatch(/exited with 1; its output ended with:\n[^]*ECONNREFUSED/);
    expect(message).toContain("run `drydock ide install` to try again");
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(progress[0]).toMatch(
      new RegExp(
        `^installing code-server ${VERSION.replace(/\./g, "\\.")} on Node ${IDE_RUNTIME.node.version.replace(/\./g, "\\.")} into `,
      ),
    );
    expect(await readdir(ideDir)).toEqual([]);
  }, 90_000);

  it("names the build tools a machine lacks and the command that installs them, before downloading anything", async () => {
    const ideDir = await freshIdeDir("no-tools");
    // A PATH with Node, npm and apt-get, but no compiler, make or python3.
    const bin = join(dir, "no-tools", "bin");
    await mkdir(bin, { recursive: true });
    await symlink(process.execPath, join(bin, "node"));
    await writeFile(join(bin, "apt-get"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const error = await ensureCodeServer({
      ideDir,
      env: { ...unreachableRegistry("no-tools"), PATH: bin },
      systemPackages: false,
    }).catch((e: unknown) => e);

    expect((error as CodeServerInstallError).step).toBe("build tools");
    expect((error as Error).message).toBe(
      `cannot install code-server ${VERSION}: its native modules are built on this machine, which lacks a C compiler, a C++ compiler, make, python3 (node-gyp). ` +
        "To fix it: sudo apt-get install -y gcc g++ make python3",
    );
    expect(await readdir(ideDir)).toEqual([]);
  });

  it("stops the steps running beside one that fails, waits for them to end, and throws the first failure", async () => {
    const events: string[] = [];
    const failure = new CodeServerInstallError("sqlite3", "sqlite3 failed");
    const settled = together([
      async () => {
        await new Promise((r) => setTimeout(r, 50));
        events.push("sqlite3 failed");
        throw failure;
      },
      async (signal) => {
        // A step beside it: its process is killed on abort, and it fails in turn, a little later.
        await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
        await new Promise((r) => setTimeout(r, 100));
        events.push("native modules stopped");
        throw new CodeServerInstallError("native modules", "was stopped");
      },
    ]);
    await expect(settled).rejects.toBe(failure);
    expect(events).toEqual(["sqlite3 failed", "native modules stopped"]);
    await expect(together([async () => {}, async () => {}])).resolves.toBeUndefined();
  });

  it("takes over a stale lock left by a dead agent", async () => {
    const ideDir = await freshIdeDir("stale");
    const dead = spawn("true");
    await once(dead, "exit");
    await mkdir(ideDir, { recursive: true });
    await writeFile(lockPath(ideDir), JSON.stringify({ pid: dead.pid, host: hostname() }));
    const progress: string[] = [];

    // Past the lock, it reaches (and fails at) the install itself.
    const error = await ensureCodeServer({
      ideDir,
      env: unreachableRegistry("stale"),
      systemPackages: false,
      onProgress: (l) => progress.push(l),
    }).catch((e: unknown) => e);
    expect((error as CodeServerInstallError).step).toBe("node runtime");
    expect(progress).toContain(
      `code-server install: taking over a stale install lock (pid ${dead.pid} on ${hostname()})`,
    );
    expect(await readdir(ideDir)).toEqual([]);
  }, 90_000);

  it("waits while a live agent holds the lock, and goes on once it is gone", async () => {
    const ideDir = await freshIdeDir("live");
    const holder = spawn("sleep", ["60"]);
    await mkdir(ideDir, { recursive: true });
    await writeFile(lockPath(ideDir), JSON.stringify({ pid: holder.pid, host: hostname() }));
    const progress: string[] = [];
    const result = ensureCodeServer({
      ideDir,
      env: unreachableRegistry("live"),
      systemPackages: false,
      onProgress: (l) => progress.push(l),
    }).catch((e: unknown) => e);
    try {
      await expect
        .poll(() => progress, { timeout: 10_000 })
        .toContain(
          `code-server install: waiting for pid ${holder.pid} on ${hostname()}, which is installing code-server ${VERSION}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await readdir(ideDir)).toEqual([`${runtimeName()}.lock`]);
    } finally {
      holder.kill("SIGKILL");
      await once(holder, "exit");
    }

    expect(((await result) as CodeServerInstallError).step).toBe("node runtime");
    expect(await readdir(ideDir)).toEqual([]);
  }, 90_000);

  // A real install from the npm registry, as an agent on a user's laptop does it: no root, no system packages
  // (a compiler, make and python3, but no Kerberos headers), about 2 minutes here.
  it("installs the pinned code-server and its own Node into the IDE directory once, where findCodeServer finds it", async () => {
    const ideDir = await freshIdeDir("real");
    const progress: string[] = [];
    const env = { ...process.env, TMPDIR: join(dir, "real", "tmp") };
    const bin = await ensureCodeServer({
      ideDir,
      env,
      systemPackages: false,
      kerberosHeaders: [],
      onProgress: (l) => progress.push(l),
    });

    expect(bin).toBe(join(ideDir, runtimeName(), "bin", "code-server"));
    expect(await findCodeServer({ ideDir })).toBe(bin);
    expect(progress.at(-1)).toMatch(
      new RegExp(`^code-server ${VERSION.replace(/\./g, "\\.")} installed in \\d+ s: `),
    );
    expect(await readdir(ideDir)).toEqual([runtimeName()]);
    // Without the Kerberos headers, the optional kerberos module was left out rather than failing the install.
    expect(progress).toContain(
      "no Kerberos (GSSAPI) headers here: code-server is built without its optional Kerberos proxy sign-in (libkrb5-dev adds it)",
    );
    const native = progress.find((l) => l.startsWith("code-server install: native modules: "));
    expect(native).toContain("@vscode/spdlog");
    expect(native).not.toContain("kerberos");
    // It runs on its own Node, whatever Node runs the agent, and its search has its ripgrep.
    const version = await run(bin, ["--version"], { ...env, HOME: join(dir, "real", "tmp") });
    expect(version).toMatch(
      new RegExp(`^${VERSION.replace(/\./g, "\\.")} [0-9a-f]+ with Code `, "m"),
    );
    expect(await run(join(ideDir, runtimeName(), "node", "bin", "node"), ["--version"], env)).toBe(
      `v${IDE_RUNTIME.node.version}\n`,
    );
    const rg = join(
      ideDir,
      runtimeName(),
      "node_modules",
      "code-server",
      "lib",
      "vscode",
      "node_modules",
      "@vscode",
      "ripgrep-universal",
      "bin",
      `linux-${process.arch}`,
      "rg",
    );
    expect(await run(rg, ["--version"], env)).toMatch(/^ripgrep \d+/);

    const again: string[] = [];
    expect(await ensureCodeServer({ ideDir, env, onProgress: (l) => again.push(l) })).toBe(bin);
    expect(again).toEqual([]);
  }, 900_000);
});

async function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number];
  expect(code).toBe(0);
  return out;
}
