#!/usr/bin/env node
import { InvalidInputsError, TaskFailedError } from "@drydock/sdk";
import { Command, CommanderError } from "commander";

import { connectionOptions } from "./cli-options.js";
import { readCliEnv } from "./env.js";
import {
  abortCommand,
  getExecutionCommand,
  getWorkflowCommand,
  listExecutionsCommand,
  listWorkflowsCommand,
  logsCommand,
  registerCommand,
  RUN_USAGE,
  runCommand,
} from "./commands.js";
import { CliError } from "./errors.js";
import { ideInstallCommand } from "./ide.js";
import { declareTeamCommands } from "./team-cli.js";
import {
  changesCommand,
  debugNodeCommand,
  keepAliveCommand,
  resumeCommand,
} from "./interactive.js";
import type { ResumeFlags } from "./interactive.js";
import { forkCommand, recoverCommand } from "./rerun.js";
import { upCommand } from "./up.js";
import type { UpFlags } from "./up.js";

const env = readCliEnv();
let exitCode = 0;

const program = new Command("drydock")
  .description("Drydock: TypeScript workflows whose tasks you can debug where they run")
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command("run")
  .description("run a workflow locally, or on the server with --remote")
  .usage(
    "[--remote [--wait] [--overwrite-cache] [--pause-before <node>]...] [--output text|json] <file> <workflow> [--<input> <value>]...",
  )
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument("[args...]")
  .addHelpText("after", `\n${RUN_USAGE}`)
  .action(async (_args: string[], _opts: unknown, cmd: Command) => {
    exitCode = await runCommand(env, cmd.args);
  });

connectionOptions(
  program
    .command("register")
    .description("package a workflow file with its sources and register its workflows")
    .argument("<file>"),
).action(async (file: string, opts: Record<string, string>) => registerCommand(env, file, opts));

const executions = program.command("executions").description("list and inspect executions");
connectionOptions(
  executions
    .command("list")
    .description("recent executions, newest first")
    .option("--status <status>", "only RUNNING, SUCCEEDED, FAILED or ABORTED")
    .option("--workflow <name>", "only this workflow's")
    .option("--limit <n>", "how many", "50")
    .option("-o, --output <format>", "text or json", "text"),
).action(async (opts: Record<string, string>) => listExecutionsCommand(env, opts));
connectionOptions(
  executions
    .command("get")
    .description("an execution with each node's status")
    .argument("<id>")
    .option("-o, --output <format>", "text or json", "text"),
).action(async (id: string, opts: Record<string, string>) => getExecutionCommand(env, id, opts));

const workflows = program.command("workflows").description("the project's registered workflows");
connectionOptions(
  workflows
    .command("list")
    .description("the project's workflows with their latest version")
    .option("-o, --output <format>", "text or json", "text"),
).action(async (opts: Record<string, string>) => listWorkflowsCommand(env, opts));
connectionOptions(
  workflows
    .command("get")
    .description(
      "a workflow's version: its tasks, where it was registered from, what it was forked from",
    )
    .argument("<name>")
    .option("--version <version>", "which version (default: the latest)")
    .option("-o, --output <format>", "text or json", "text"),
).action(async (name: string, opts: Record<string, string>) => getWorkflowCommand(env, name, opts));

connectionOptions(
  program
    .command("logs")
    .description("what a node's attempts printed (every node's without one)")
    .argument("<execution>")
    .argument("[node]"),
).action(async (id: string, node: string | undefined, opts: Record<string, string>) =>
  logsCommand(env, id, node, opts),
);

connectionOptions(
  program
    .command("abort")
    .description("abort an execution and end its running tasks")
    .argument("<id>")
    .option("-o, --output <format>", "text or json", "text"),
).action(async (id: string, opts: Record<string, string>) => abortCommand(env, id, opts));

// A node's interactive session: <execution> <node> as `drydock executions get` lists them.
const nodeCommand = (name: string, description: string) =>
  connectionOptions(
    program.command(name).description(description).argument("<execution>").argument("<node>"),
  );

nodeCommand(
  "resume",
  "resume a task waiting in its IDE: code-server stops and the task runs with the edited sources; a paused task may instead run its original code again (--original) or end as failed (--fail)",
)
  .option("--edited", "run the task with the IDE's edited sources (the default)")
  .option(
    "--original",
    "a paused task only: this attempt fails with its error and a new attempt runs the registered code (the edits stay for `drydock changes`)",
  )
  .option(
    "--fail",
    "a paused task only: the node fails with the original error and stack, and what follows it does not run",
  )
  .option("-y, --yes", "resume without asking (required when stdin is not a terminal)")
  .option("-o, --output <format>", "text or json", "text")
  .action(
    async (
      execution: string,
      node: string,
      opts: Record<string, string> & ResumeFlags & { yes?: boolean },
    ) => {
      exitCode = await resumeCommand(env, execution, node, opts);
    },
  );

nodeCommand(
  "keep-alive",
  "postpone the end of a task's IDE by its full limit: maxUnopenedSeconds until someone opens it, then maxIdleSeconds",
)
  .option("-o, --output <format>", "text or json", "text")
  .action(async (execution: string, node: string, opts: Record<string, string>) =>
    keepAliveCommand(env, execution, node, opts),
  );

nodeCommand(
  "changes",
  "print the edits made in a task's IDE as a patch (drydock changes <execution> <node> | git apply)",
)
  .option("--apply", "apply the edit to the files on this machine the version was registered from")
  .option(
    "--commit",
    "commit the edit on a new branch of the git repository the version was registered from",
  )
  .option("--branch <name>", "the new branch's name (default: drydock/<execution>-<node>)")
  .action(
    async (
      execution: string,
      node: string,
      opts: Record<string, string> & { apply?: boolean; commit?: boolean },
    ) => changesCommand(env, execution, node, opts),
  );

connectionOptions(
  program
    .command("recover")
    .description(
      "re-run an ended execution from its failure: what succeeded is reused, the rest runs",
    )
    .argument("<execution>"),
)
  .option(
    "--force <node...>",
    "run these nodes (and what follows them) again even if they succeeded",
  )
  .option("--wait", "follow the new execution to its end")
  .option("-o, --output <format>", "text or json", "text")
  .action(
    async (
      execution: string,
      opts: Record<string, string> & { wait?: boolean; force?: string[] },
    ) => {
      exitCode = await recoverCommand(env, execution, opts);
    },
  );

nodeCommand(
  "fork",
  "register the sources plus the edits of a node's IDE as a new version, and run it reusing what is unchanged",
)
  .option("--wait", "follow the new execution to its end")
  .option("-o, --output <format>", "text or json", "text")
  .action(
    async (execution: string, node: string, opts: Record<string, string> & { wait?: boolean }) => {
      exitCode = await forkCommand(env, execution, node, opts);
    },
  );

nodeCommand(
  "debug",
  "re-run one node of a past execution in an IDE, with the inputs it had, without re-registering",
)
  .option("--wait", "print the IDE link once it is ready and follow the run to its end")
  .option(
    "--pause-before",
    "hold the task on its first line, its inputs loaded, until you continue it in the debugger",
  )
  .option("-o, --output <format>", "text or json", "text")
  .action(
    async (
      execution: string,
      node: string,
      opts: Record<string, string> & { wait?: boolean; pauseBefore?: boolean },
    ) => {
      exitCode = await debugNodeCommand(env, execution, node, opts);
    },
  );

program
  .command("up")
  .description(
    "start the control plane with an embedded PostgreSQL; Ctrl-C stops everything it started",
  )
  .option("--port <port>", "API and console port", "8484")
  .option(
    "--relay-port <port>",
    "the relay's port, where IDE sessions are served (default: the API port + 1)",
  )
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--data-dir <dir>", "where data lives", ".drydock")
  .option(
    "--launch <file[:workflow]>",
    "once up, register this file and launch its workflow (default wf) with default inputs",
  )
  .action(async (opts: UpFlags) => {
    exitCode = await upCommand(env, opts);
  });

program
  .command("ide")
  .description("the IDE runtime interactive tasks run (code-server on its own Node)")
  .command("install")
  .description(
    "install it now, into the user's cache (DRYDOCK_IDE_DIR moves it), instead of on first use",
  )
  .action(async () => {
    exitCode = await ideInstallCommand(env);
  });

declareTeamCommands(program, env);

function report(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode;
  if (error instanceof InvalidInputsError) {
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  if (error instanceof TaskFailedError) {
    process.stderr.write(
      `error: ${error.message}\n${error.cause instanceof Error && error.cause.stack ? `${error.cause.stack}\n` : ""}`,
    );
    return 1;
  }
  if (error instanceof CliError) {
    process.stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(
    `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 1;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  exitCode = report(error);
}
// A pipe takes stdout asynchronously: exit only once all of it is handed over (a long JSON export).
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(exitCode);
