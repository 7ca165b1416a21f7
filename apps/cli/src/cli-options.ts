/** The options every command that talks to a server shares. */
import type { Command } from "commander";

/** --endpoint and --token: which server, with which credential. */
export const serverOptions = (cmd: Command) =>
  cmd
    .option(
      "--endpoint <url>",
      "the Drydock server (default: DRYDOCK_ENDPOINT, then what `drydock login` or `drydock up` saved)",
    )
    .option(
      "--token <token>",
      "API token (default: DRYDOCK_TOKEN, then what `drydock login` or `drydock up` saved)",
    );

/** --endpoint, --token and --project: the server, the credential and the project to act in. */
export const connectionOptions = (cmd: Command) =>
  serverOptions(cmd).option(
    "--project <project>",
    "the project to act in (default: DRYDOCK_PROJECT, then `drydock projects use`, then default)",
  );

/** -o/--output for commands that print text or JSON. */
export const outputOption = (cmd: Command) =>
  cmd.option("-o, --output <format>", "text or json", "text");
