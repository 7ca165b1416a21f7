import { runWorkflow, validateWorkflowInputs } from "@drydock/sdk";

import type { CliEnv } from "./env.js";
import { withClient } from "./client.js";
import type { ApiClient } from "./client.js";
import { resolveConnection } from "./context.js";
import type { Connection, ConnectionFlags } from "./context.js";
import { CliError } from "./errors.js";
import { parseInputFlags, splitRunArguments } from "./inputs.js";
import { loadWorkflowFile, pickWorkflow } from "./load.js";
import {
  describeLogLoss,
  formatExecutionDetail,
  formatExecutionList,
  formatTable,
  formatWorkflowVersion,
  printResult,
} from "./output.js";
import type { OutputFormat } from "./output.js";
import { followExecution } from "./follow.js";
import { Progress } from "./progress.js";
import { launchWorkflow, registerFile } from "./register.js";

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
  return withClient(conn, (api) => fn(api, conn));
}

/** Makes one API call and prints its answer: whole as JSON with `--output json`, else as the text `describe` makes of it. */
export async function printAnswer<T>(
  env: CliEnv,
  flags: ConnectionFlags & { output?: string },
  call: (api: ApiClient) => Promise<T>,
  describe: (answer: T) => string,
): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const answer = await call(api);
    printResult(format === "json" ? answer : describe(answer), format);
  });
}

/** The console page of an execution. */
export const executionUrl = (conn: Connection, id: string) => `${conn.endpoint}/executions/${id}`;

const RUN_OPTIONS: Record<string, boolean | "repeatable"> = {
  remote: false,
  wait: false,
  "overwrite-cache": false,
  "pause-before": "repeatable",
  output: true,
  endpoint: true,
  token: true,
  project: true,
  help: false,
};

export const RUN_USAGE = `usage: drydock run [--remote [--wait] [--overwrite-cache] [--pause-before <node>]...] [--output text|json] <file> <workflow> [--<input> <value>]...

Runs a workflow: in this process by default (no IDE ever starts), or on the server with --remote.
Inputs are given as --<input> <value>; values are text for string inputs and JSON otherwise.
--overwrite-cache runs cached tasks again instead of reusing earlier outputs, and replaces their entries.
--pause-before <node> holds that node (n0, n1, …; every element of a fan-out) before its task runs, with its
IDE open on the task's first line and its real inputs loaded; continuing in the debugger runs it for real.
Repeat it, or give several nodes comma-separated (--pause-before n1,n2).`;

/** The nodes `--pause-before` names, each given once (repeated or comma-separated); an empty one is refused. */
export function pauseBeforeNodes(values: string[]): string[] {
  const nodes = values.flatMap((v) => v.split(",")).map((n) => n.trim());
  if (nodes.some((n) => n === ""))
    throw new CliError("--pause-before names an empty node id (nodes are n0, n1, …)");
  return [...new Set(nodes)];
}

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
  // Local runs never read or write the server's cache.
  if (args.options["overwrite-cache"] && !args.options.remote)
    throw new CliError("--overwrite-cache only applies to --remote runs");
  const pauseBefore = pauseBeforeNodes(args.lists["pause-before"] ?? []);
  if (pauseBefore.length > 0 && !args.options.remote)
    throw new CliError(
      "--pause-before only applies to --remote runs (local runs never start an IDE)",
    );

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
      overwriteCache: args.options["overwrite-cache"] === true,
      pauseBefore,
    });
    const say = (line: string) =>
      (format === "json" || args.options.wait ? process.stderr : process.stdout).write(`${line}\n`);
    say(`execution ${execution.id} started`);
    if (pauseBefore.length > 0)
      say(`paused before: ${pauseBefore.join(", ")} (each opens its IDE before its task runs)`);
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
  await printAnswer(env, flags, (api) => api.executions.get.query({ id }), formatExecutionDetail);
}

export async function abortCommand(
  env: CliEnv,
  id: string,
  flags: ConnectionFlags & { output?: string },
): Promise<void> {
  await printAnswer(
    env,
    flags,
    (api) => api.executions.abort.mutate({ id }),
    (execution) => `execution ${execution.id} ${execution.status}`,
  );
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

/** `drydock workflows list`: the project's registered workflows with their latest version. */
export async function listWorkflowsCommand(
  env: CliEnv,
  flags: ConnectionFlags & { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api, conn) => {
    const workflows = await api.workflows.list.query({ project: conn.project });
    if (format === "json") return printResult(workflows, "json");
    printResult(
      workflows.length === 0
        ? `no workflows in project ${conn.project} yet (\`drydock register <file>\` adds them)`
        : formatTable([
            ["WORKFLOW", "LATEST VERSION", "VERSIONS", "UPDATED"],
            ...workflows.map((w) => [w.name, w.latestVersion, String(w.versions), w.updatedAt]),
          ]),
      "text",
    );
  });
}

/** `drydock workflows get`: one version (the latest without --version), its origin and lineage. */
export async function getWorkflowCommand(
  env: CliEnv,
  name: string,
  flags: ConnectionFlags & { version?: string; output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api, conn) => {
    const version = await api.workflows.get.query({
      project: conn.project,
      name,
      ...(flags.version ? { version: flags.version } : {}),
    });
    printResult(format === "json" ? version : formatWorkflowVersion(version), format);
  });
}
