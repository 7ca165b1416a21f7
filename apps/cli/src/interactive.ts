/** The commands about a node's interactive (VS Code) session: resume, keep-alive, changes and debug. */
import type { InteractiveSession, ResumeChoice, WorkflowVersion } from "@drydock/contracts";

import { applyEditHome, commitEditHome } from "./carry-home.js";
import type { ApiClient } from "./client.js";
import type { CliEnv } from "./env.js";
import type { ConnectionFlags } from "./context.js";
import { executionUrl, outputFormat, printAnswer, withApi } from "./commands.js";
import { canAsk, confirm } from "./confirm.js";
import { followExecution } from "./follow.js";
import { CliError } from "./errors.js";
import { describeSessionEnd, printResult } from "./output.js";

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

/** `--edited`, `--original`, `--fail`: how `drydock resume` ends the session (at most one; edited by default). */
export type ResumeFlags = Partial<Record<ResumeChoice, boolean>>;

const RESUME_FLAGS: ResumeChoice[] = ["edited", "original", "fail"];

/** The choice the flags ask for; more than one is a usage error naming them. */
export function resumeChoiceOf(flags: ResumeFlags): ResumeChoice {
  const given = RESUME_FLAGS.filter((choice) => flags[choice]).map((choice) => `--${choice}`);
  if (given.length > 1)
    throw new CliError(
      `${given.slice(0, -1).join(", ")} and ${given.at(-1)} are different ways to resume: give at most one`,
    );
  return RESUME_FLAGS.find((choice) => flags[choice]) ?? "edited";
}

/** What each choice asks before it, and says after it. */
const RESUME_WORDS: Record<
  ResumeChoice,
  { ask: (task: string) => string; doing: (task: string) => string }
> = {
  edited: {
    ask: (task) =>
      `Resume ${task}? code-server will stop and the task runs with the edited sources`,
    doing: (task) =>
      `resuming ${task}: code-server stops and the task runs with the edited sources`,
  },
  original: {
    ask: (task) =>
      `Run the original code of ${task} again? code-server will stop, this attempt fails with its error and a new attempt runs the registered code`,
    doing: (task) =>
      `resuming ${task} with its original code: code-server stops, this attempt fails with its error and a new attempt runs the registered code`,
  },
  fail: {
    ask: (task) =>
      `End ${task} as failed? code-server will stop and the node fails with the original error; what follows it does not run`,
    doing: (task) =>
      `ending ${task} as failed: code-server stops and the node fails with the original error; what follows it does not run`,
  },
};

/**
 * `drydock resume`: ends the node's live session the way the IDE's Resume Task does (`--edited`, the default),
 * or for a paused task by running its original code again (`--original`) or ending it as failed (`--fail`),
 * after asking.
 */
export async function resumeCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: NodeFlags & ResumeFlags & { yes?: boolean },
): Promise<number> {
  const ref = nodeRef(execution, node);
  const choice = resumeChoiceOf(flags);
  const format = outputFormat(flags.output);
  const words = RESUME_WORDS[choice];
  if (!flags.yes && !canAsk()) {
    throw new CliError(
      `drydock resume asks before it stops code-server, and cannot ask without a terminal: pass --yes to resume ${taskOf(ref)}`,
    );
  }
  return withApi(env, flags, async (api, conn) => {
    if (!flags.yes && !(await confirm(words.ask(taskOf(ref))))) {
      process.stderr.write(`not resumed: ${taskOf(ref)} keeps its IDE\n`);
      return 1;
    }
    const session = await api.sessions.resume.mutate({ ...ref, choice });
    if (format === "json") {
      printResult(session, "json");
      return 0;
    }
    const lines = [
      session.state === "ENDED"
        ? `the IDE session of ${taskOf(ref)} has ended (${session.endReason ?? "ended"})`
        : words.doing(taskOf(ref)),
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

/** When the session ends now, by the limit that applies: unopened until someone opens its IDE, then idle. */
function sessionEnd(session: InteractiveSession): string {
  const end = describeSessionEnd(session);
  return session.idleDeadline ? `it ${end} (at ${session.idleDeadline})` : `it ${end}`;
}

/** `drydock keep-alive`: postpones the node's end by its full limit (maxUnopenedSeconds until opened, then maxIdleSeconds). */
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
    (session) => `kept the IDE of ${taskOf(ref)} alive: ${sessionEnd(session)}`,
  );
}

/** How `drydock changes` carries the edit home, if it does: `--apply`, `--commit [--branch NAME]`. */
export interface CarryHomeFlags {
  apply?: boolean;
  commit?: boolean;
  branch?: string;
}

/** The way home the flags ask for (none: print the patch); contradictory flags are a usage error. */
export function carryHomeMode(flags: CarryHomeFlags): "apply" | "commit" | undefined {
  if (flags.apply && flags.commit)
    throw new CliError("--apply and --commit are two ways to carry the edit home: give one");
  if (flags.branch !== undefined && !flags.commit)
    throw new CliError("--branch only applies to --commit");
  return flags.apply ? "apply" : flags.commit ? "commit" : undefined;
}

/** Why a version has nowhere to carry an edit to, and what to do instead. */
function noOrigin(version: WorkflowVersion, ref: NodeRef): CliError {
  const fork = version.forkedFrom;
  if (fork)
    return new CliError(
      `version ${version.version} of ${version.name} was made by \`drydock fork\` (from version ${fork.version} with the edits of node ${fork.nodeId} of execution ${fork.executionId}), not registered from files: carry that edit home first (drydock changes ${fork.executionId} ${fork.nodeId} --apply), then apply this one by hand (drydock changes ${ref.executionId} ${ref.nodeId})`,
      1,
    );
  return new CliError(
    `version ${version.version} of ${version.name} has no record of the files it was registered from (register it again to record them): apply the edit by hand (drydock changes ${ref.executionId} ${ref.nodeId})`,
    1,
  );
}

/** `--apply` / `--commit`: the edit, the version it was made against and where that was registered from. */
async function carryHome(
  api: ApiClient,
  ref: NodeRef,
  mode: "apply" | "commit",
  branch: string | undefined,
): Promise<void> {
  const changes = await api.sessions.changes.query(ref);
  if (changes.patch === "")
    throw new CliError(
      `the IDE session ${changes.sessionId} of ${taskOf(ref)} has no edits to carry home`,
      1,
    );
  const { execution, nodes } = await api.executions.get.query({ id: ref.executionId });
  const version = await api.workflows.get.query({
    project: execution.project,
    name: execution.workflow,
    version: execution.version,
  });
  if (!version.origin) throw noOrigin(version, ref);
  const task = nodes.find((n) => n.nodeId === ref.nodeId)?.task ?? ref.nodeId;
  if (mode === "apply") {
    const written = await applyEditHome(changes.patch, version.origin);
    const verb = (c: (typeof written)[number]) =>
      c.after === undefined ? "deleted" : c.created ? "created" : "updated";
    printResult(written.map((c) => `${verb(c)} ${c.absolute}`).join("\n"), "text");
    return;
  }
  const made = await commitEditHome(
    changes.patch,
    version.origin,
    {
      workflow: execution.workflow,
      version: execution.version,
      executionId: ref.executionId,
      nodeId: ref.nodeId,
      task,
    },
    branch,
  );
  const toplevel = version.origin.git?.toplevel ?? version.origin.root;
  printResult(
    [
      `created branch ${made.branch} in ${toplevel}: commit ${made.commit} with the edit of ${made.files.join(", ")}`,
      `  look at it: git show ${made.branch}   (your current branch, index and working tree are as they were)`,
    ].join("\n"),
    "text",
  );
}

/**
 * `drydock changes`: the IDE's edits as a unified diff on stdout, and nothing else there (`| git apply`);
 * with `--apply` or `--commit`, carried into the files or the repository the version was registered from.
 */
export async function changesCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: ConnectionFlags & CarryHomeFlags,
): Promise<void> {
  const ref = nodeRef(execution, node);
  const mode = carryHomeMode(flags);
  await withApi(env, flags, async (api) => {
    if (mode) return carryHome(api, ref, mode, flags.branch);
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
  flags: NodeFlags & { wait?: boolean; pauseBefore?: boolean },
): Promise<number> {
  const ref = nodeRef(execution, node);
  const format = outputFormat(flags.output);
  const pauseBefore = flags.pauseBefore === true;
  return withApi(env, flags, async (api, conn) => {
    const debug = await api.executions.debug.mutate({ ...ref, pauseBefore });
    const url = executionUrl(conn, debug.id);
    const say = (line: string) =>
      (format === "json" || flags.wait ? process.stderr : process.stdout).write(`${line}\n`);
    say(
      `execution ${debug.id} started: ${taskOf(ref)} again, in an IDE, with the inputs it had${pauseBefore ? ", paused on its task's first line" : ""}`,
    );
    say(`console: ${url}`);
    if (flags.wait) return followExecution(api, debug.id, format, conn.endpoint);
    // The debug run names its nodes itself; it keeps the original's id when it can.
    const { nodes } = await api.executions.get.query({ id: debug.id });
    const target =
      nodes.find((n) => n.nodeId === ref.nodeId)?.nodeId ??
      (nodes.length === 1 ? nodes[0]?.nodeId : undefined) ??
      ref.nodeId;
    say(`open the IDE from the node's VSCode (User) link in the console once it runs`);
    if (pauseBefore)
      say(`the debugger stops on the task's first line; continuing there runs the task for real`);
    say(
      `when you are done: drydock resume ${debug.id} ${target}   (the IDE's edits: drydock changes ${debug.id} ${target})`,
    );
    if (format === "json")
      printResult({ id: debug.id, url, node: target, debugOf: debug.debugOf ?? ref }, "json");
    return 0;
  });
}
