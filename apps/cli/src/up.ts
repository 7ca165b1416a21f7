/** `drydock up`: the whole of Drydock on this machine, the control plane and the relay in one process. */
import { resolve } from "node:path";

import type { Relay } from "@drydock/relay";
import type { WorkflowEntity } from "@drydock/sdk";
import { validateWorkflowInputs } from "@drydock/sdk";
import type { DataDirLock, RunningServer, ServerConfig } from "@drydock/server";

import { executionUrl, withApi } from "./commands.js";
import type { CliEnv } from "./env.js";
import { processEnv } from "./env.js";
import { readSavedContext, saveContext } from "./context.js";
import { CliError } from "./errors.js";
import { announceIdes } from "./follow.js";
import { provisionIde } from "./ide.js";
import { loadWorkflowFile, pickWorkflow } from "./load.js";
import { Progress } from "./progress.js";
import { launchWorkflow } from "./register.js";

export interface UpFlags {
  port?: string;
  relayPort?: string;
  dataDir?: string;
  host?: string;
  launch?: string;
}

type RelayListening = Awaited<ReturnType<Relay["listen"]>>;

/** Asks the running Drydock to stop (once): why goes to stderr, `code` becomes `drydock up`'s exit code. */
type Stop = (why: string, code: number) => void;

function portFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new CliError(`${name} must be a port number, not "${value}"`);
  return port;
}

/** The relay takes the next port, or any free one when the API's is picked at random. */
function relayPortFor(port: number | undefined, relayPortFlag: string | undefined) {
  return (
    portFlag("--relay-port", relayPortFlag) ??
    (port === undefined ? undefined : port === 0 ? 0 : port + 1)
  );
}

/** A taken port is one line naming the flag that moves it; any other listening failure is rethrown as is. */
function portInUse(host: string, what: "API" | "relay", port: number) {
  return (error: NodeJS.ErrnoException): never => {
    if (error.code === "EADDRINUSE")
      throw new CliError(
        `${what} port ${port} on ${host} is in use (another drydock up?); pass ${what === "relay" ? "--relay-port" : "--port"}`,
        1,
      );
    throw error;
  };
}

/** The first node of a workflow whose task opens an IDE, if any. */
function firstInteractiveNode(workflow: WorkflowEntity): string | undefined {
  const { workflow: spec, tasks } = workflow.build();
  const interactive = new Set(tasks.filter((t) => t.interactive?.enable).map((t) => t.name));
  return spec.nodes.find((n) => interactive.has(n.task))?.id;
}

/**
 * Starts the relay, then the server that hands out its URL. The relay asks the server about sessions, and
 * only learns its URL once it is up; a server that fails to start closes the relay again.
 */
async function startRelayAndServer(
  config: ServerConfig,
  relayPort: number | undefined,
  dataDir: string,
  lock: DataDirLock,
): Promise<{ relay: Relay; listening: RelayListening; server: RunningServer }> {
  const { loadSecrets, startServer } = await import("@drydock/server");
  const { buildRelay, readRelayConfig, serverAuthority } = await import("@drydock/relay");
  let serverUrl = "";
  const relayToken = config.relayToken ?? (await loadSecrets(dataDir)).relayToken;
  const relayConfig = readRelayConfig(processEnv(), {
    host: config.host,
    port: relayPort,
    serverUrl: "http://127.0.0.1",
    relayToken,
    logLevel: config.logLevel,
  });
  const relay = buildRelay(relayConfig, {
    authority: serverAuthority({ serverUrl: () => serverUrl, relayToken }),
  });
  const listening = await relay.listen().catch(portInUse(config.host, "relay", relayConfig.port));
  const server = await startServer(
    { ...config, relayToken, relayUrl: listening.url, ideOrigin: listening.ideOrigin },
    undefined,
    lock,
  ).catch(async (error: NodeJS.ErrnoException) => {
    await relay.close();
    return portInUse(config.host, "API", config.port)(error);
  });
  serverUrl = server.url;
  return { relay, listening, server };
}

/**
 * The console line is a one-time sign-in link from the server: the long-lived token stays in the saved
 * context and never appears in a URL (browser history, screen shares, terminal scrollback).
 */
/** How `drydock up` describes the isolation of attempts, by what the server reports. */
const ISOLATION_LINES: Record<RunningServer["isolation"], string> = {
  "per-attempt-user": "each attempt runs as its own user",
  container: "each attempt runs in its own container",
  none: "NONE: the server is not root, so tasks and IDEs run as you and can read its data directory and each other's tokens; single-user only",
};

function announceUp(server: RunningServer, listening: RelayListening, signIn: string): void {
  process.stdout.write(
    `Drydock is up.\n  console: ${signIn}  (one-time sign-in link; \`drydock console\` prints another)\n  api:     ${server.url}/trpc\n  relay:   ${listening.url} (IDE sessions on ${listening.ideOrigin.replace("//", "//<session>.")})\n  isolation: ${ISOLATION_LINES[server.isolation]}\nPress Ctrl-C to stop.\n`,
  );
}

/**
 * Saves this server as the one later commands talk to. A sign-in `drydock login` saved for another server is
 * replaced, and the message says so (and how to return), rather than leaving commands to go there silently.
 */
async function saveUpContext(env: CliEnv, server: RunningServer): Promise<void> {
  const previous = await readSavedContext(env);
  await saveContext(env, {
    endpoint: server.url,
    token: server.token,
    dataDir: server.dataDir,
    source: "up",
  });
  if (previous && previous.source !== "up" && previous.source !== undefined)
    process.stderr.write(
      `commands now talk to this Drydock; your sign-in to ${previous.endpoint} was replaced (\`drydock login --endpoint ${previous.endpoint}\` returns to it)\n`,
    );
}

/** Stops on Ctrl-C or SIGTERM (or `stop`): relay, then server, then the data directory's lock. */
function stopOnSignals(
  relay: Relay,
  server: RunningServer,
  lock: DataDirLock,
): { stop: Stop; stopped: Promise<number> } {
  let stop: Stop = () => {};
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    stop = (why, code) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\n${why}: stopping Drydock…\n`);
      void relay
        .close()
        .then(() => server.close())
        .then(() => lock.release())
        .then(() => resolve(code));
    };
    process.on("SIGINT", () => stop("SIGINT", 0));
    process.on("SIGTERM", () => stop("SIGTERM", 0));
    server.onFatal((error) => stop(`the server cannot go on (${error.message})`, 1));
  });
  return { stop, stopped };
}

/**
 * The local executor's interactive tasks run the machine's IDE runtime: install it now (once per machine,
 * with progress here) rather than in the first task, which would fail or wait in silence.
 * Resolves to the error that stopped the install, if any; it is reported here and does not stop Drydock.
 */
function provisionIdeInBackground(
  config: ServerConfig,
  progress: Progress,
  isTTY: boolean,
): Promise<Error | undefined> {
  const ide =
    config.executor === "local"
      ? provisionIde(progress, isTTY).then(
          () => undefined,
          (error: Error) => error,
        )
      : Promise.resolve(undefined);
  void ide.then((error) => {
    if (error)
      process.stderr.write(
        `\nIDE runtime: ${error.message}\nInteractive tasks cannot open their IDE until this is fixed.\n`,
      );
  });
  return ide;
}

/**
 * `--launch file[:workflow]`: registers and launches a workflow on the Drydock just started and prints the
 * console page that opens it. A launch that fails is reported and leaves Drydock running, except that an
 * interactive workflow without an IDE runtime stops it (exit 1).
 */
async function launchOnUp(
  env: CliEnv,
  spec: string,
  server: RunningServer,
  progress: Progress,
  ide: Promise<Error | undefined>,
  { stop, stopped }: { stop: Stop; stopped: Promise<number> },
): Promise<void> {
  const [file, name = "wf"] = spec.split(":");
  try {
    const loaded = await loadWorkflowFile(file as string);
    const workflow = pickWorkflow(loaded, name);
    const inputs = validateWorkflowInputs(workflow, {});
    const interactive = firstInteractiveNode(workflow);
    if (interactive && (await ide)) {
      stop(`${name} has an interactive task and the IDE runtime could not be installed (above)`, 1);
      return;
    }
    await withApi(env, { endpoint: server.url, token: server.token }, async (api, conn) => {
      const execution = await launchWorkflow(api, conn.project, loaded, name, inputs, progress, {
        taskBaseImage: env.taskBaseImage,
      });
      // The page opens the first interactive task's pane, where its IDE link appears; the link signs the
      // browser in once and lands there.
      const page = new URL(executionUrl(conn, execution.id));
      if (interactive) page.searchParams.set("node", interactive);
      const link = await server.signInLink(`${page.pathname}${page.search}`);
      process.stdout.write(
        `launched ${name}: execution ${execution.id}\n  open it in the console: ${link.url}  (one-time sign-in link)\n`,
      );
      // An interactive example opens an IDE: say where, once it is ready (until Drydock stops).
      const quiet = new AbortController();
      void stopped.finally(() => quiet.abort());
      void announceIdes(api, execution.id, conn.endpoint, quiet.signal);
    });
  } catch (error) {
    process.stderr.write(
      `could not launch ${spec}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
}

/**
 * `drydock up`: the control plane with an embedded PostgreSQL, and the relay in the same process on a second
 * port (its own origin: sessions live on `<session>.localhost:<relay port>`), until Ctrl-C or SIGTERM.
 * Nothing in the data directory is touched before both ports are known free and the directory is locked
 * for this process (a second `drydock up` on it exits 1 naming the running one's pid).
 */
export async function upCommand(env: CliEnv, flags: UpFlags): Promise<number> {
  const { DataDirError, assertPortFree, lockDataDir, readServerConfig } =
    await import("@drydock/server");
  const port = portFlag("--port", flags.port);
  const relayPort = relayPortFor(port, flags.relayPort);
  const config = readServerConfig(processEnv(), { port, dataDir: flags.dataDir, host: flags.host });
  const dataDir = resolve(config.dataDir);
  const progress = new Progress(env.isTTY);
  progress.step(`starting Drydock (data in ${config.dataDir})…`);
  // A data directory it cannot use is one line (which directory, why), not a stack.
  const oneLine = (error: unknown) =>
    error instanceof DataDirError ? new CliError(error.message, 1) : error;
  await assertPortFree(config.host, config.port).catch(portInUse(config.host, "API", config.port));
  if (relayPort !== undefined)
    await assertPortFree(config.host, relayPort).catch(portInUse(config.host, "relay", relayPort));
  const lock = await lockDataDir(dataDir).catch((error: unknown) => {
    throw oneLine(error);
  });
  const { relay, listening, server } = await startRelayAndServer(
    config,
    relayPort,
    dataDir,
    lock,
  ).catch(async (error: unknown) => {
    await lock.release();
    throw oneLine(error);
  });
  await saveUpContext(env, server);
  announceUp(server, listening, (await server.signInLink()).url);
  const running = stopOnSignals(relay, server, lock);
  const ide = provisionIdeInBackground(config, progress, env.isTTY);
  if (flags.launch) await launchOnUp(env, flags.launch, server, progress, ide, running);
  return running.stopped;
}
