/** The commands of people and projects: sign-in, projects and members, API keys, the audit log, sharing. */
import type { Command } from "commander";

import { createApiKeyCommand, listApiKeysCommand, revokeApiKeyCommand } from "./api-keys.js";
import type { CreateKeyFlags } from "./api-keys.js";
import { auditCommand } from "./audit.js";
import type { AuditFlags } from "./audit.js";
import { connectionOptions, outputOption, serverOptions } from "./cli-options.js";
import type { CliEnv } from "./env.js";
import {
  createProjectCommand,
  listMembersCommand,
  listProjectsCommand,
  setMemberCommand,
  useProjectCommand,
} from "./projects.js";
import {
  DEFAULT_SHARE_FOR,
  sessionAccessCommand,
  shareCommand,
  unshareCommand,
} from "./sharing.js";
import { consoleCommand, loginCommand, logoutCommand, whoamiCommand } from "./sign-in.js";

type Flags = Record<string, string>;

function declareSignIn(program: Command, env: CliEnv): void {
  program
    .command("login")
    .description(
      "sign in to a Drydock server: in a browser (the OpenID device flow), or with an API key; saved readable by you only",
    )
    .option("--endpoint <url>", "the server (default: DRYDOCK_ENDPOINT, then the saved one)")
    .option("--api-key <key>", "sign in with this API key instead (`-`: read it from stdin)")
    .action(async (opts: { endpoint?: string; apiKey?: string }) => loginCommand(env, opts));
  program
    .command("logout")
    .description("forget the saved credential (and revoke the key `drydock login` made for it)")
    .action(async () => logoutCommand(env));
  outputOption(
    connectionOptions(
      program.command("whoami").description("who the CLI acts as, and your role in each project"),
    ),
  ).action(async (opts: Flags) => whoamiCommand(env, opts));
  outputOption(
    serverOptions(
      program
        .command("console")
        .description("print a fresh one-time link that signs a browser into the console"),
    ),
  ).action(async (opts: Flags) => consoleCommand(env, opts));
}

function declareProjects(program: Command, env: CliEnv): void {
  const projects = program.command("projects").description("the projects you may see");
  outputOption(
    connectionOptions(projects.command("list").description("your projects and your role in each")),
  ).action(async (opts: Flags) => listProjectsCommand(env, opts));
  outputOption(
    serverOptions(
      projects
        .command("create")
        .description("create a project (instance admins)")
        .argument("<id>", "lower-case letters, digits and dashes")
        .argument("<name>"),
    ),
  ).action(async (id: string, name: string, opts: Flags) =>
    createProjectCommand(env, id, name, opts),
  );
  serverOptions(
    projects
      .command("use")
      .description("act in this project from now on (saved with your sign-in)")
      .argument("<id>"),
  ).action(async (id: string, opts: Flags) => useProjectCommand(env, id, opts));

  const members = program.command("members").description("who may do what in the project");
  outputOption(
    connectionOptions(members.command("list").description("the project's members and roles")),
  ).action(async (opts: Flags) => listMembersCommand(env, opts));
  outputOption(
    connectionOptions(
      members
        .command("set")
        .description("add a member or change their role (viewer, editor, admin)")
        .argument("<user>", "a user id or an email address")
        .argument("<role>", "viewer, editor or admin"),
    ),
  ).action(async (user: string, role: string, opts: Flags) =>
    setMemberCommand(env, user, role, opts),
  );
  outputOption(
    connectionOptions(
      members.command("remove").description("remove a member from the project").argument("<user>"),
    ),
  ).action(async (user: string, opts: Flags) => setMemberCommand(env, user, null, opts));
}

function declareApiKeys(program: Command, env: CliEnv): void {
  const keys = program.command("api-keys").description("your API keys, for scripts and CI");
  outputOption(
    serverOptions(
      keys
        .command("create")
        .description("make a key; its secret is printed this once")
        .argument("<name>")
        .option(
          "--ceiling <role>",
          "the highest role it acts with: viewer, editor or admin",
          "editor",
        )
        .option("--project <project>", "limit it to this project")
        .option("--expires-in-days <n>", "stop working after this many days (default: never)"),
    ),
  ).action(async (name: string, opts: CreateKeyFlags) => createApiKeyCommand(env, name, opts));
  outputOption(
    serverOptions(keys.command("list").description("your keys, without secrets")),
  ).action(async (opts: Flags) => listApiKeysCommand(env, opts));
  outputOption(
    serverOptions(
      keys.command("revoke").description("stop a key working at once").argument("<id>"),
    ),
  ).action(async (id: string, opts: Flags) => revokeApiKeyCommand(env, id, opts));
}

function declareAudit(program: Command, env: CliEnv): void {
  connectionOptions(
    program
      .command("audit")
      .description("the audit log, newest first: the project's (admins), or with --all everyone's")
      .option("--since <when>", "from this ISO date or time, or this long ago (24h, 7d)")
      .option("--until <when>", "up to this ISO date or time, or this long ago")
      .option("--action <actions>", "only these actions, comma-separated (e.g. session.share)")
      .option("--actor <user>", "only this user's (id or email)")
      .option("--execution <id>", "only about this execution")
      .option("--all", "every project's entries, sign-ins and keys included (instance admins)")
      .option("-o, --output <format>", "table or json (one array of every entry)", "table"),
  ).action(async (opts: AuditFlags) => auditCommand(env, opts));
}

function declareSharing(program: Command, env: CliEnv): void {
  outputOption(
    connectionOptions(
      program
        .command("share")
        .description("let a teammate open a node's live IDE session for a while")
        .argument("<execution>")
        .argument("<node>")
        .requiredOption("--with <user>", "the teammate: a user id or an email address")
        .option("--for <span>", "how long: 30m, 1h, 8h, 2d…", DEFAULT_SHARE_FOR),
    ),
  ).action(async (execution: string, node: string, opts: Flags) =>
    shareCommand(env, execution, node, opts),
  );
  outputOption(
    connectionOptions(
      program
        .command("unshare")
        .description("end a share: the teammate's IDE connections close at once")
        .argument("<execution>")
        .argument("<node>")
        .requiredOption("--with <user>", "the teammate: a user id or an email address"),
    ),
  ).action(async (execution: string, node: string, opts: Flags) =>
    unshareCommand(env, execution, node, opts),
  );
  const sessions = program.command("sessions").description("a node's IDE session");
  outputOption(
    connectionOptions(
      sessions
        .command("access")
        .description("who owns it, who it is shared with, who opened it, who is connected now")
        .argument("<execution>")
        .argument("<node>"),
    ),
  ).action(async (execution: string, node: string, opts: Flags) =>
    sessionAccessCommand(env, execution, node, opts),
  );
}

/** Adds the commands of people and projects to `program`. */
export function declareTeamCommands(program: Command, env: CliEnv): void {
  declareSignIn(program, env);
  declareProjects(program, env);
  declareApiKeys(program, env);
  declareAudit(program, env);
  declareSharing(program, env);
}
