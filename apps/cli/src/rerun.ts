/** `drydock recover` and `drydock fork`: new executions that reuse what a past one did well. */
import type { Execution } from "@drydock/contracts";

import type { ApiClient } from "./client.js";
import { executionUrl, outputFormat, withApi } from "./commands.js";
import type { Connection, ConnectionFlags } from "./context.js";
import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";
import { followExecution } from "./follow.js";
import { nodeRef } from "./interactive.js";
import { printResult } from "./output.js";
import type { OutputFormat } from "./output.js";

type RerunFlags = ConnectionFlags & { output?: string; wait?: boolean };

/** Prints the new execution like `run --remote` does, and with `--wait` follows it to its end. */
async function started(
  api: ApiClient,
  conn: Connection,
  execution: Execution,
  lines: string[],
  format: OutputFormat,
  flags: RerunFlags,
  json: Record<string, unknown>,
): Promise<number> {
  const url = executionUrl(conn, execution.id);
  const say = (line: string) =>
    (format === "json" || flags.wait ? process.stderr : process.stdout).write(`${line}\n`);
  say(`execution ${execution.id} started`);
  for (const line of lines) say(line);
  say(`console: ${url}`);
  if (flags.wait) return followExecution(api, execution.id, format, conn.endpoint);
  if (format === "json") printResult({ id: execution.id, url, ...json }, "json");
  return 0;
}

/** `a`, `a and b`, `a, b and c`. */
const listed = (names: string[]) =>
  names.length < 2 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;

/** `drydock recover`: the same version again, reusing the outputs of the nodes that succeeded. */
export async function recoverCommand(
  env: CliEnv,
  execution: string,
  flags: RerunFlags & { force?: string[] },
): Promise<number> {
  if (execution.trim() === "") throw new CliError("the execution id is empty");
  const force = flags.force ?? [];
  if (force.some((n) => n.trim() === ""))
    throw new CliError("--force names an empty node id (nodes are n0, n1, …)");
  const format = outputFormat(flags.output);
  return withApi(env, flags, async (api, conn) => {
    const recovered = await api.executions.recover.mutate({ id: execution, force });
    const except = force.length > 0 ? `, except ${listed(force)} and what follows them` : "";
    return started(
      api,
      conn,
      recovered,
      [`recovered from ${execution} (reusing what succeeded${except})`],
      format,
      flags,
      { parent: recovered.parent ?? { executionId: execution, kind: "recover", force } },
    );
  });
}

/** `drydock fork`: a new version with the edits of the node's IDE, run reusing the unchanged upstream nodes. */
export async function forkCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: RerunFlags,
): Promise<number> {
  const ref = nodeRef(execution, node);
  const format = outputFormat(flags.output);
  return withApi(env, flags, async (api, conn) => {
    const forked = await api.executions.fork.mutate(ref);
    const version = await api.workflows.get.query({
      project: forked.project,
      name: forked.workflow,
      version: forked.version,
    });
    const from = version.forkedFrom;
    const changed = from?.changedTasks.length
      ? ` (changed task${from.changedTasks.length > 1 ? "s" : ""}: ${from.changedTasks.join(", ")})`
      : "";
    return started(
      api,
      conn,
      forked,
      [
        `forked version ${forked.version} of ${forked.workflow} from ${from ? `version ${from.version}` : `execution ${ref.executionId}`} with the edits of ${ref.nodeId}${changed}`,
        `  what it reuses and runs: drydock executions get ${forked.id}`,
      ],
      format,
      flags,
      {
        workflow: forked.workflow,
        version: forked.version,
        parent: forked.parent ?? { executionId: ref.executionId, kind: "fork", nodeId: ref.nodeId },
        ...(from ? { forkedFrom: { ...from, patch: undefined } } : {}),
      },
    );
  });
}
