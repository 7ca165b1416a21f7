/** The commands about a node's interactive (VS Code) session: resume, keep-alive, changes and debug. */
import type { InteractiveSession } from "@drydock/contracts";

import type { CliEnv } from "./env.js";
import type { ConnectionFlags } from "./context.js";
import { executionUrl, outputFormat, printAnswer, withApi } from "./commands.js";
import { canAsk, confirm } from "./confirm.js";
import { followExecution } from "./follow.js";
import { CliError } from "./errors.js";
import { formatSeconds, printResult } from "./output.js";

type NodeFlags = ConnectionFlags & { output?: string };

/** A node as the commands name it: `<execution> <node>`. */
export interface NodeRef {
  executionId: string;
  nodeId: string;
}

/** The node the arguments name; an empty one is a usage error that says where ids come from. */
export function nodeRef(execution: string, node: string): NodeRef {
  if (execution.trim() === "") throw new CliError("the execution id is empty");
  if (node.trim() === "")
    throw new CliError(
      "the node id is empty (nodes are n0, n1, …, as `drydock executions get <execution>` lists them)",
    );
  return { executionId: execution, nodeId: node };
}

/** A node in words, for messages: `task n0 of execution x1`. */
export const taskOf = (ref: NodeRef) => `task ${ref.nodeId} of execution ${ref.executionId}`;

/** Writes `text` and waits until it is handed over, so exiting right after loses nothing of a long patch. */
const writeOut = (text: string) =>
  new Promise<void>((resolve, reject) =>
    process.stdout.write(text, (error) => (error ? reject(error) : resolve())),
  );

/** `drydock resume`: ends the node's live session the way the IDE's Resume Task does, after asking. */
export async function resumeCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: NodeFlags & { yes?: boolean },
): Promise<number> {
  const ref = nodeRef(execution, node);
  const format = outputFormat(flags.output);
  if (!flags.yes && !canAsk()) {
    throw new CliError(
      `drydock resume asks before it stops code-server, and cannot ask without a terminal: pass --yes to resume ${taskOf(ref)}`,
    );
  }
  return withApi(env, flags, async (api, conn) => {
    if (
      !flags.yes &&
      !(await confirm(
        `Resume ${taskOf(ref)}? code-server will stop and the task runs with the edited sources`,
      ))
    ) {
      process.stderr.write(`not resumed: ${taskOf(ref)} keeps its IDE\n`);
      return 1;
    }
    const session = await api.sessions.resume.mutate(ref);
    if (format === "json") {
      printResult(session, "json");
      return 0;
    }
    const lines = [
      session.state === "ENDED"
        ? `the IDE session of ${taskOf(ref)} has ended (${session.endReason ?? "ended"})`
        : `resuming ${taskOf(ref)}: code-server stops and the task runs with the edited sources`,
      `  follow it: drydock executions get ${ref.executionId}   (console: ${executionUrl(conn, ref.executionId)})`,
    ];
    if (session.hasChanges)
      lines.push(
        `  the IDE's edits stay available: drydock changes ${ref.executionId} ${ref.nodeId} > ${ref.nodeId}.patch`,
      );
    printResult(lines.join("\n"), "text");
    return 0;
  });
}

function idleEnd(session: InteractiveSession): string {
  if (!session.idleDeadline)
    return `it may stay idle for another ${formatSeconds(session.maxIdleSeconds)}`;
  const left = (Date.parse(session.idleDeadline) - Date.now()) / 1_000;
  return `it ends idle at ${session.idleDeadline} (in ${formatSeconds(left)}) unless it is used before`;
}

/** `drydock keep-alive`: postpones the node's idle end by its full maxIdleSeconds. */
export async function keepAliveCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: NodeFlags,
): Promise<void> {
  const ref = nodeRef(execution, node);
  await printAnswer(
    env,
    flags,
    (api) => api.sessions.keepAlive.mutate(ref),
    (session) => `kept the IDE of ${taskOf(ref)} alive: ${idleEnd(session)}`,
  );
}

/** `drydock changes`: the IDE's edits as a unified diff on stdout, and nothing else there (`| git apply`). */
export async function changesCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: ConnectionFlags,
): Promise<void> {
  const ref = nodeRef(execution, node);
  await withApi(env, flags, async (api) => {
    const changes = await api.sessions.changes.query(ref);
    if (changes.patch === "") {
      const why = changes.savedAt
        ? `its saved sources (${changes.savedAt}) match the registered ones`
        : "it has not saved any edits";
      process.stderr.write(
        `no changes: the IDE session ${changes.sessionId} of ${taskOf(ref)} has none (${why})\n`,
      );
      return;
    }
    await writeOut(changes.patch);
  });
}

/**
 * `drydock debug`: a new execution that re-runs one node of a past one in an IDE, with the inputs it had,
 * without re-registering anything. Prints like `run --remote`; `--wait` also prints the IDE link once it is
 * ready and follows the run to its end.
 */
export async function debugNodeCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: NodeFlags & { wait?: boolean },
): Promise<number> {
  const ref = nodeRef(execution, node);
  const format = outputFormat(flags.output);
  return withApi(env, flags, async (api, conn) => {
    const debug = await api.executions.debug.mutate(ref);
    const url = executionUrl(conn, debug.id);
    const say = (line: string) =>
      (format === "json" || flags.wait ? process.stderr : process.stdout).write(`${line}\n`);
    say(`execution ${debug.id} started: ${taskOf(ref)} again, in an IDE, with the inputs it had`);
    say(`console: ${url}`);
    if (flags.wait) return followExecution(api, debug.id, format, conn.endpoint);
    // The debug run names its nodes itself; it keeps the original's id when it can.
    const { nodes } = await api.executions.get.query({ id: debug.id });
    const target =
      nodes.find((n) => n.nodeId === ref.nodeId)?.nodeId ??
      (nodes.length === 1 ? nodes[0]?.nodeId : undefined) ??
      ref.nodeId;
    say(`open the IDE from the node's VSCode (User) link in the console once it runs`);
    say(
      `when you are done: drydock resume ${debug.id} ${target}   (the IDE's edits: drydock changes ${debug.id} ${target})`,
    );
    if (format === "json")
      printResult({ id: debug.id, url, node: target, debugOf: debug.debugOf ?? ref }, "json");
    return 0;
  });
}
