import { resolve } from "node:path";

import type { WorkflowEntity } from "@drydock/sdk";
import { runWorkflow, validateWorkflowInputs } from "@drydock/sdk";

import type { CliEnv } from "./env.js";
import { processEnv } from "./env.js";
import { createApiClient, explainApiError } from "./client.js";
import type { ApiClient } from "./client.js";
import { resolveConnection, saveContext } from "./context.js";
import type { Connection } from "./context.js";
import { CliError } from "./errors.js";
import { parseInputFlags, splitRunArguments } from "./inputs.js";
import { loadWorkflowFile, pickWorkflow } from "./load.js";
import {
  describeLogLoss,
  formatExecutionDetail,
  formatExecutionList,
  printResult,
} from "./output.js";
import type { OutputFormat } from "./output.js";
import { announceIdes, followExecution } from "./follow.js";
import { provisionIde } from "./ide.js";
import { Progress } from "./progress.js";
import { launchWorkflow, registerFile } from "./register.js";

export interface ConnectionFlags {
  endpoint?: string;
  token?: string;
  project?: string;
}

export function outputFormat(value: unknown): OutputFormat {
  if (value === undefined || value === "text") return "text";
  if (value === "json") return "json";
  throw new CliError(
    `--output must be "text" or "json", not "${typeof value === "string" ? value : JSON.stringify(value)}"`,
  );
}

/** Resolves the connection, runs `fn` with a client, and turns API failures into one-line CLI errors. */
export async function withApi<T>(
  env: CliEnv,
  flags: ConnectionFlags,
  fn: (api: ApiClient, conn: Connection) => Promise<T>,
): Promise<T> {
  const conn = await resolveConnection(env, flags);
  const { api, close } = createApiClient(conn);
  try {
    return await fn(api, conn);
  } catch (error) {
    throw explainApiError(error, conn.endpoint);
  } finally {
    close();
  }
}

/** The first node of a workflow whose task opens an IDE, if any. */
function firstInteractiveNode(workflow: WorkflowEntity): string | undefined {
  const { workflow: spec, tasks } = workflow.build();
  const interactive = new Set(tasks.filter((t) => t.interactive?.enable).map((t) => t.name));
  return spec.nodes.find((n) => interactive.has(n.task))?.id;
}

/** The console page of an execution. */
export const executionUrl = (conn: Connection, id: string) => `${conn.endpoint}/executions/${id}`;

const RUN_OPTIONS = {
  remote: false,
  wait: false,
  output: true,
  endpoint: true,
  token: true,
  project: true,
  help: false,
};

export const RUN_USAGE = `usage: drydock run [--remote [--wait]] [--output text|json] <file> <workflow> [--<input> <value>]...

Runs a workflow: in this process by default (no IDE ever starts), or on the server with --remote.
Inputs are given as --<input> <value>; values are text for string inputs and JSON otherwise.`;

/** `drydock run`: local by default; `--remote` registers, launches and (with --wait) follows the execution. */
export async function runCommand(env: CliEnv, argv: string[]): Promise<number> {
  const args = splitRunArguments(argv, RUN_OPTIONS);
  if (args.options.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const format = outputFormat(args.options.output);
  const [file, name, ...extra] = args.positionals;
  if (!file || !name)
    throw new CliError(`drydock run needs a file and a workflow name\n${RUN_USAGE}`);
  if (extra.length > 0)
    throw new CliError(`unexpected argument "${extra[0]}" (inputs are given as --<input> <value>)`);
  if (args.options.wait && !args.options.remote)
    throw new CliError("--wait only applies to --remote runs");

  const loaded = await loadWorkflowFile(file);
  const wf = pickWorkflow(loaded, name);
  const raw = parseInputFlags(args.inputs, wf.build().workflow.inputs);
  // Validate before anything runs or uploads, so a typo costs nothing.
  const inputs = validateWorkflowInputs(wf, raw);
  const progress = new Progress(env.isTTY);

  if (!args.options.remote) {
    const result = await runWorkflow(wf, inputs, {
      onEvent: (e) =>
        progress.step(
          `${e.nodeId} ${e.task} ${e.status}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`,
        ),
    });
    printResult(result, format);
    return 0;
  }

  const flags = {
    endpoint: args.options.endpoint,
    token: args.options.token,
    project: args.options.project,
  } as ConnectionFlags;
  return withApi(env, flags, async (api, conn) => {
    const execution = await launchWorkflow(api, conn.project, loaded, name, inputs, progress, {
      taskBaseImage: env.taskBaseImage,
    });
    const say = (line: string) =>
      (format === "json" || args.options.wait ? process.stderr : process.stdout).write(`${line}\n`);
    say(`execution ${execution.id} started`);
    say(`console: ${executionUrl(conn, execution.id)}`);
    if (!args.options.wait) {
      if (format === "json")
        printResult({ id: execution.id, url: executionUrl(conn, execution.id) }, "json");
      return 0;
    }
    return followExecution(api, execution.id, format, conn.endpoint);
  });
}

export async function registerCommand(
  env: CliEnv,
  file: string,
  flags: ConnectionFlags,
): Promise<void> {
  const loaded = await loadWorkflowFile(file);
  await withApi(env, flags, (api, conn) =>
    registerFile(api, conn.project, loaded, new Progress(env.isTTY), {
      taskBaseImage: env.taskBaseImage,
    }),
  );
}

export async function listExecutionsCommand(
  env: CliEnv,
  flags: ConnectionFlags & { status?: string; workflow?: string; limit?: string; output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  const limit = flags.limit === undefined ? 50 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new CliError(`--limit must be a positive whole number, not "${flags.limit}"`);
  await withApi(env, flags, async (api, conn) => {
    const list = await api.executions.list.query({
      project: conn.project,
      limit,
      ...(flags.status ? { status: flags.status.toUpperCase() as "RUNNING" } : {}),
      ...(flags.workflow ? { workflow: flags.workflow } : {}),
    });
    if (format === "json") printResult(list, "json");
    else printResult(formatExecutionList(list), "text");
  });
}

export async function getExecutionCommand(
  env: CliEnv,
  id: string,
  flags: ConnectionFlags & { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const detail = await api.executions.get.query({ id });
    printResult(format === "json" ? detail : formatExecutionDetail(detail), format);
  });
}

export async function abortCommand(
  env: CliEnv,
  id: string,
  flags: ConnectionFlags & { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const execution = await api.executions.abort.mutate({ id });
    printResult(
      format === "json" ? execution : `execution ${execution.id} ${execution.status}`,
      format,
    );
  });
}

/** `drydock logs`: what each attempt of the execution's nodes (or of one node) printed, attempt by attempt. */
export async function logsCommand(
  env: CliEnv,
  id: string,
  node: string | undefined,
  flags: ConnectionFlags,
): Promise<void> {
  await withApi(env, flags, async (api) => {
    const detail = await api.executions.get.query({ id });
    const nodes = node === undefined ? detail.nodes : detail.nodes.filter((n) => n.nodeId === node);
    if (node !== undefined && nodes.length === 0) {
      throw new CliError(
        `execution ${id} has no node "${node}" (it has: ${detail.nodes.map((n) => n.nodeId).join(", ")})`,
        1,
      );
    }
    for (const n of nodes) {
      for (const attempt of n.attempts) {
        process.stdout.write(
          `==> ${n.nodeId} ${n.task} attempt ${attempt.number} (${attempt.status}) <==\n`,
        );
        for (let offset = 0; ;) {
          const chunk = await api.executions.logs.query({ attemptId: attempt.id, offset });
          process.stdout.write(chunk.text);
          if (chunk.nextOffset === offset) break;
          offset = chunk.nextOffset;
        }
        // What the server could not store is not above: say so, where a reader of the log looks.
        if (attempt.logLost)
          process.stderr.write(
            `${describeLogLoss(`${n.nodeId} attempt ${attempt.number}`, attempt.logLost)}\n`,
          );
      }
    }
  });
}

function portFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new CliError(`${name} must be a port number, not "${value}"`);
  return port;
}

/**
 * `drydock up`: the control plane with an embedded PostgreSQL, and the relay in the same process on a second
 * port (its own origin: sessions live on `<session>.localhost:<relay port>`), until Ctrl-C or SIGTERM.
 * Nothing in the data directory is touched before both ports are known free and the directory is locked
 * for this process (a second `drydock up` on it exits 1 naming the running one's pid).
 */
export async function upCommand(
  env: CliEnv,
  flags: { port?: string; relayPort?: string; dataDir?: string; host?: string; launch?: string },
): Promise<number> {
  const { DataDirError, assertPortFree, loadSecrets, lockDataDir, readServerConfig, startServer } =
    await import("@drydock/server");
  const { buildRelay, readRelayConfig, serverAuthority } = await import("@drydock/relay");
  const port = portFlag("--port", flags.port);
  // The relay takes the next port, or any free one when the API's is picked at random.
  const relayPort =
    portFlag("--relay-port", flags.relayPort) ??
    (port === undefined ? undefined : port === 0 ? 0 : port + 1);
  const config = readServerConfig(processEnv(), { port, dataDir: flags.dataDir, host: flags.host });
  const dataDir = resolve(config.dataDir);
  const progress = new Progress(env.isTTY);
  progress.step(`starting Drydock (data in ${config.dataDir})…`);
  const inUse = (what: string, p: number) => (error: NodeJS.ErrnoException) => {
    if (error.code === "EADDRINUSE")
      throw new CliError(
        `${what} port ${p} on ${config.host} is in use (another drydock up?); pass ${what === "relay" ? "--relay-port" : "--port"}`,
        1,
      );
    throw error;
  };
  // A data directory it cannot use is one line (which directory, why), not a stack.
  const oneLine = (error: unknown) =>
    error instanceof DataDirError ? new CliError(error.message, 1) : error;
  await assertPortFree(config.host, config.port).catch(inUse("API", config.port));
  if (relayPort !== undefined)
    await assertPortFree(config.host, relayPort).catch(inUse("relay", relayPort));
  const lock = await lockDataDir(dataDir).catch((error: unknown) => {
    throw oneLine(error);
  });
  let serverUrl = "";
  const { relay, listening, server } = await (async () => {
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
    const listening = await relay.listen().catch(inUse("relay", relayConfig.port));
    const server = await startServer(
      { ...config, relayToken, relayUrl: listening.url, ideOrigin: listening.ideOrigin },
      undefined,
      lock,
    ).catch(async (error: NodeJS.ErrnoException) => {
      await relay.close();
      return inUse("API", config.port)(error);
    });
    return { relay, listening, server };
  })().catch(async (error: unknown) => {
    await lock.release();
    throw oneLine(error);
  });
  serverUrl = server.url;
  await saveContext(env, { endpoint: server.url, token: server.token, dataDir: server.dataDir });
  process.stdout.write(
    `Drydock is up.\n  console: ${server.consoleUrl}\n  api:     ${server.url}/trpc\n  relay:   ${listening.url} (IDE sessions on ${listening.ideOrigin.replace("//", "//<session>.")})\nPress Ctrl-C to stop.\n`,
  );

  let stop: (why: string, code: number) => void = () => {};
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
  });

  // The local executor's interactive tasks run the machine's IDE runtime: install it now (once per machine,
  // with progress here) rather than in the first task, which would fail or wait in silence.
  const ide =
    config.executor === "local"
      ? provisionIde(progress, env.isTTY).then(
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

  if (flags.launch) {
    const [file, name = "wf"] = flags.launch.split(":");
    try {
      const loaded = await loadWorkflowFile(file as string);
      const workflow = pickWorkflow(loaded, name);
      const inputs = validateWorkflowInputs(workflow, {});
      const interactive = firstInteractiveNode(workflow);
      if (interactive && (await ide)) {
        stop(
          `${name} has an interactive task and the IDE runtime could not be installed (above)`,
          1,
        );
        return stopped;
      }
      await withApi(env, { endpoint: server.url, token: server.token }, async (api, conn) => {
        const execution = await launchWorkflow(api, conn.project, loaded, name, inputs, progress, {
          taskBaseImage: env.taskBaseImage,
        });
        // The printed page signs in and opens the first interactive task's pane, where its IDE link appears.
        const page = new URL(executionUrl(conn, execution.id));
        if (interactive) page.searchParams.set("node", interactive);
        page.searchParams.set("token", server.token);
        process.stdout.write(
          `launched ${name}: execution ${execution.id}\n  open it in the console: ${page.toString()}\n`,
        );
        // An interactive example opens an IDE: say where, once it is ready (until Drydock stops).
        const quiet = new AbortController();
        void stopped.finally(() => quiet.abort());
        void announceIdes(api, execution.id, conn.endpoint, quiet.signal);
      });
    } catch (error) {
      process.stderr.write(
        `could not launch ${flags.launch}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
  }
  return stopped;
}
