/**
 * The session's code-server: the IDE runtime (installed on first use), the session's extensions, then
 * code-server itself on its private socket — and, with `vscode({ port })`, the guarded local port in front
 * of it. Progress and problems are said in the task's log.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";

import type { ExtensionProblem, InteractiveConfig } from "@drydock/contracts";
import type { Logger } from "pino";

import { describeError } from "../client.js";
import type { AgentClient, ServerCall } from "../client.js";
import type { AgentConfig } from "../env.js";
import { describeListen, startCodeServer } from "./code-server.js";
import { installExtensions } from "./extensions.js";
import { openLocalPort } from "./local-port.js";
import { ensureCodeServer } from "./provision.js";
import type { SessionResources } from "./session-resources.js";
import { USER_SETTINGS } from "./workspace.js";

export interface SessionIdeOptions {
  config: AgentConfig;
  client: AgentClient;
  call: ServerCall;
  log: Logger;
  writeTaskLog: (line: string) => void;
  interactive: InteractiveConfig;
  /** Extensions every session gets, before the task's own. */
  defaultExtensions?: readonly string[];
  signal: AbortSignal;
  /** The attempt's private directory. */
  privateDir: string;
  control: { socketPath: string; token: string };
}

/** What code-server is started with, once the runtime and the extensions are there. */
export interface PreparedIde {
  bin: string;
  profileDir: string;
  env: Record<string, string | undefined>;
  extensionsDir?: string;
}

export async function prepareIde(options: SessionIdeOptions): Promise<PreparedIde> {
  const { config, log, writeTaskLog, privateDir } = options;
  const bin = await ensureCodeServer({
    ideDir: config.ideDir,
    env: config.childEnv,
    onProgress: writeTaskLog,
    onOutput: writeTaskLog,
  });
  const profileDir = join(privateDir, "profile");
  // Its temp files (the IDE's IPC sockets, the terminals' scratch) live and die with the session.
  const tmp = join(privateDir, "tmp");
  await mkdir(tmp, { mode: 0o700 });
  const env = {
    ...config.childEnv,
    DRYDOCK_CONTROL_SOCKET: options.control.socketPath,
    DRYDOCK_CONTROL_TOKEN: options.control.token,
    TMPDIR: tmp,
  };
  const extensions = [
    ...new Set([...(options.defaultExtensions ?? []), ...options.interactive.extensions]),
  ];
  if (extensions.length === 0) return { bin, profileDir, env };
  const { installed, problems, extensionsDir } = await installExtensions({
    bin,
    extensions,
    cacheDir: config.cacheDir,
    ...(config.sharedExtensionsDir ? { sharedCacheDir: config.sharedExtensionsDir } : {}),
    userDataDir: join(profileDir, "data"),
    env: { ...env, HOME: profileDir },
    onProgress: writeTaskLog,
    signal: options.signal,
  });
  log.info({ installed, problems, extensionsDir }, "extensions installed");
  if (problems.length > 0) await reportProblems(options, problems);
  return { bin, profileDir, env, ...(extensionsDir ? { extensionsDir } : {}) };
}

/** Starts code-server (and the local port), each put in `resources` as soon as it runs; resolves to where code-server listens. */
export async function launchIde(
  options: SessionIdeOptions,
  ide: PreparedIde,
  workspace: string,
  resources: SessionResources,
): Promise<{ socketPath: string }> {
  const { log, writeTaskLog, interactive } = options;
  // code-server answers only on its private socket; a pinned port gets a guard in front of it (local-port.ts).
  const listen = { socketPath: join(options.privateDir, "code-server.sock") };
  const running = await startCodeServer({
    bin: ide.bin,
    listen,
    workspace,
    profileDir: ide.profileDir,
    ...(ide.extensionsDir ? { extensionsDir: ide.extensionsDir } : {}),
    env: ide.env,
    userSettings: USER_SETTINGS,
    onOutput: (line) => log.debug({ codeServer: line }),
  });
  resources.ide = running;
  log.info({ pid: running.pid, listen: describeListen(listen) }, "code-server started");
  writeTaskLog(
    `code-server started (pid ${running.pid}); the VSCode (User) link appears in the console once it answers through the relay`,
  );
  if (interactive.port) {
    resources.localPort = await openLocalPort({
      port: interactive.port,
      socketPath: listen.socketPath,
    });
    log.info({ port: interactive.port }, "the IDE's local port is open");
    writeTaskLog(
      `VS Code on this machine (vscode port ${interactive.port}), signed in by this link: ${resources.localPort.signInUrl}`,
    );
  }
  return listen;
}

async function reportProblems(
  options: SessionIdeOptions,
  problems: ExtensionProblem[],
): Promise<void> {
  for (const problem of problems)
    options.writeTaskLog(`extension ${problem.extension} was not installed: ${problem.message}`);
  await options
    .call("updateSession", () =>
      options.client.agent.updateSession.mutate({ extensionProblems: problems }),
    )
    .catch((error: unknown) =>
      options.log.warn({ error: describeError(error) }, "could not report the extension problems"),
    );
}
