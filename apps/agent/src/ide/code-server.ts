/**
 * code-server in the task: found (the pinned version, on PATH or in the agent's cache), started on a Unix
 * socket in the attempt's private directory — so only this agent can reach it, and the relay tunnel is its
 * only door — and stopped with its whole process tree.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { access, constants, mkdir, rm } from "node:fs/promises";
import { request } from "node:http";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";

import { groupAlive } from "../process-group.js";

/** The last code-server release that runs on Node 20. */
export const CODE_SERVER_VERSION = "4.100.3";

export class CodeServerMissingError extends Error {
  override name = "CodeServerMissingError";
}

/** Where to look for code-server: `$PATH`, then `<cacheDir>/code-server-<version>/bin/code-server`. */
export async function findCodeServer(options: { cacheDir: string; pathEnv: string | undefined; version?: string }): Promise<string> {
  const version = options.version ?? CODE_SERVER_VERSION;
  const candidates = [
    ...(options.pathEnv ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, "code-server")),
    join(options.cacheDir, `code-server-${version}`, "bin", "code-server"),
  ];
  const seen: string[] = [];
  for (const candidate of candidates) {
    if (!(await access(candidate, constants.X_OK).then(() => true, () => false))) continue;
    const found = await versionOf(candidate);
    if (found === version) return candidate;
    seen.push(`${candidate} is ${found ?? "not runnable"}`);
  }
  throw new CodeServerMissingError(
    `code-server ${version} is not installed (looked on PATH and in ${join(options.cacheDir, `code-server-${version}`)}` +
      `${seen.length > 0 ? `; ${seen.join("; ")}` : ""}); install it with infra/scripts/install-code-server.sh`,
  );
}

async function versionOf(bin: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)(bin, ["--version"], { timeout: 30_000 });
    return stdout.split(/\s+/)[0];
  } catch {
    return undefined;
  }
}

export interface CodeServerOptions {
  bin: string;
  /** The Unix socket it listens on (in a directory only the agent can enter). */
  socketPath: string;
  /** The folder the workbench opens. */
  workspace: string;
  /** Profile, settings and extensions live here; removed by `stop()` unless kept. */
  profileDir: string;
  /** Where its output goes (the task log, say). */
  onOutput?: (line: string) => void;
  /** Its environment (PATH and the like; HOME is set to the profile). */
  env: Record<string, string | undefined>;
  /** How long to wait for it to answer. */
  readyTimeoutMs?: number;
}

export interface RunningCodeServer {
  pid: number;
  socketPath: string;
  /** Ends its process group: SIGTERM, then SIGKILL after `graceMs`; resolves once no process of it is left. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when code-server's own process exits. */
  exited: Promise<number | null>;
}

/** GET `path` over a Unix socket: the status, or undefined if nothing answers. */
export function getOverSocket(socketPath: string, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, method: "GET", headers: { host: "localhost" }, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** Starts code-server and resolves once it answers on its socket. */
export async function startCodeServer(options: CodeServerOptions): Promise<RunningCodeServer> {
  await mkdir(options.profileDir, { recursive: true, mode: 0o700 });
  await rm(options.socketPath, { force: true });
  const child: ChildProcess = spawn(
    options.bin,
    [
      ...["--socket", options.socketPath, "--socket-mode", "600"],
      ...["--auth", "none"],
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--disable-proxy",
      ...["--user-data-dir", join(options.profileDir, "data")],
      ...["--extensions-dir", join(options.profileDir, "extensions")],
      options.workspace,
    ],
    {
      // Its own process group: stop() ends code-server and everything it started (extension hosts, terminals).
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...options.env, HOME: options.profileDir },
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.bin}`);
  let output = "";
  const onChunk = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-4_000);
    for (const line of text.split("\n")) if (line.trim()) options.onOutput?.(line);
  };
  child.stdout?.on("data", onChunk);
  child.stderr?.on("data", onChunk);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  const stop = async (graceMs = 5_000) => {
    signalGroup(pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while ((await groupAlive(pid)) && Date.now() < deadline) await sleep(50);
    if (await groupAlive(pid)) signalGroup(pid, "SIGKILL");
    while (await groupAlive(pid)) await sleep(50);
    await rm(options.socketPath, { force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`code-server exited with ${exitCode} before it answered:\n${output}`);
    if ((await getOverSocket(options.socketPath, "/healthz")) === 200) break;
    if (Date.now() > deadline) {
      await stop(0);
      throw new Error(`code-server did not answer on ${options.socketPath} within ${options.readyTimeoutMs ?? 60_000} ms:\n${output}`);
    }
    await sleep(50);
  }
  return { pid, socketPath: options.socketPath, stop, exited };
}

function signalGroup(pgid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
