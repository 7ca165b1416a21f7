/**
 * code-server in the task: found (the pinned version, in the machine's IDE runtime directory), started on a Unix
 * socket in the attempt's private directory — so only this agent can reach it, and the relay tunnel is its
 * only door — and stopped with its whole process tree.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { access, constants, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { terminateTree } from "../process-group.js";
import { IDE_RUNTIME, PROVISION_COMMAND, runtimeDir } from "./runtime.js";

export class CodeServerMissingError extends Error {
  override name = "CodeServerMissingError";
}

/**
 * The pinned code-server in the IDE runtime directory (see runtime.ts), as `bin/code-server`: a launcher that
 * runs it on the runtime's own Node, whatever Node the agent runs on. Only a file read or two: it sits on the
 * path of every session's start.
 */
export async function findCodeServer(options: { ideDir: string }): Promise<string> {
  const dir = runtimeDir(options.ideDir);
  const bin = join(dir, "bin", "code-server");
  const pkg = join(dir, "node_modules", "code-server", "package.json");
  const [runnable, version] = await Promise.all([
    access(bin, constants.X_OK).then(
      () => true,
      () => false,
    ),
    readFile(pkg, "utf8").then(
      (text) => (JSON.parse(text) as { version?: string }).version,
      () => undefined,
    ),
  ]);
  if (runnable && version === IDE_RUNTIME.codeServer) return bin;
  throw new CodeServerMissingError(
    `code-server ${IDE_RUNTIME.codeServer} is not installed in ${dir}` +
      `${version ? ` (it holds ${version})` : ""}; the agent installs it on first use, or run \`${PROVISION_COMMAND}\``,
  );
}

/** Where code-server listens: a Unix socket (the default), or 127.0.0.1 on a pinned port (`vscode({ port })`). */
export type CodeServerListen = { socketPath: string } | { host: "127.0.0.1"; port: number };

export interface CodeServerOptions {
  bin: string;
  /** A Unix socket in a directory only the agent can enter, or loopback with a pinned port. */
  listen: CodeServerListen;
  /** The folder the workbench opens. */
  workspace: string;
  /** Profile, settings and extensions live here; removed by `stop()` unless kept. */
  profileDir: string;
  /** Installed extensions shared by sessions (see installExtensions), instead of the profile's own. */
  extensionsDir?: string;
  /** Where its output goes (the task log, say). */
  onOutput?: (line: string) => void;
  /** Its environment (PATH and the like; HOME is set to the profile). */
  env: Record<string, string | undefined>;
  /** How long to wait for it to answer. */
  readyTimeoutMs?: number;
  /** Written as the profile's User/settings.json before it starts. */
  userSettings?: Record<string, unknown>;
}

export interface RunningCodeServer {
  pid: number;
  listen: CodeServerListen;
  /** Ends its process group: SIGTERM, then SIGKILL after `graceMs`; resolves once no process of it is left. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when code-server's own process exits. */
  exited: Promise<number | null>;
}

/** GET `path` from code-server: the status, or undefined if nothing answers. */
export function getFrom(listen: CodeServerListen, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { ...listen, path, method: "GET", headers: { host: "localhost" }, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** The session's profile directory, with the task's user settings; a stale socket is removed. */
async function prepareProfile(options: CodeServerOptions): Promise<void> {
  const { listen } = options;
  await mkdir(options.profileDir, { recursive: true, mode: 0o700 });
  if (options.userSettings) {
    await mkdir(join(options.profileDir, "data", "User"), { recursive: true });
    await writeFile(
      join(options.profileDir, "data", "User", "settings.json"),
      `${JSON.stringify(options.userSettings, null, 2)}\n`,
    );
  }
  if ("socketPath" in listen) await rm(listen.socketPath, { force: true });
}

/** code-server's command line: where it listens, no sign-in of its own (the relay or the guard does it), no phoning home. */
function codeServerArgs(options: CodeServerOptions): string[] {
  const { listen } = options;
  return [
    ...("socketPath" in listen
      ? ["--socket", listen.socketPath, "--socket-mode", "600"]
      : ["--bind-addr", `${listen.host}:${listen.port}`]),
    ...["--auth", "none"],
    "--disable-telemetry",
    "--disable-update-check",
    "--disable-workspace-trust",
    "--disable-getting-started-override",
    "--disable-proxy",
    ...["--user-data-dir", join(options.profileDir, "data")],
    ...["--extensions-dir", options.extensionsDir ?? join(options.profileDir, "extensions")],
    options.workspace,
  ];
}

/** Starts code-server and resolves once it answers on its socket. */
export async function startCodeServer(options: CodeServerOptions): Promise<RunningCodeServer> {
  const { listen } = options;
  await prepareProfile(options);
  const args = codeServerArgs(options);
  // If the agent dies without stopping it (SIGKILL, OOM), the kernel sends code-server SIGTERM, and it
  // shuts down with its children: util-linux's setpriv sets the parent-death signal, then execs it.
  const setpriv = await setprivBin();
  const child: ChildProcess = spawn(
    setpriv ?? options.bin,
    setpriv ? ["--pdeathsig", "TERM", "--", options.bin, ...args] : args,
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
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  const stop = async (graceMs = 5_000) => {
    await terminateTree(pid, graceMs);
    if ("socketPath" in listen) await rm(listen.socketPath, { force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`code-server exited with ${exitCode} before it answered:\n${output}`);
    if ((await getFrom(listen, "/healthz")) === 200) break;
    if (Date.now() > deadline) {
      await stop(0);
      throw new Error(
        `code-server did not answer on ${describeListen(listen)} within ${options.readyTimeoutMs ?? 60_000} ms:\n${output}`,
      );
    }
    await sleep(50);
  }
  return { pid, listen, stop, exited };
}

let setprivFound: Promise<string | undefined> | undefined;

/** util-linux's setpriv, where the system has it (Debian always does). */
function setprivBin(): Promise<string | undefined> {
  setprivFound ??= access("/usr/bin/setpriv", constants.X_OK).then(
    () => "/usr/bin/setpriv",
    () => undefined,
  );
  return setprivFound;
}

export function describeListen(listen: CodeServerListen): string {
  return "socketPath" in listen ? listen.socketPath : `${listen.host}:${listen.port}`;
}
