/** Runs the real CLI from its sources (through tsx, so no build is needed) as a separate process. */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI_PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** DRYDOCK_HOME: where the CLI saves and reads its credential. */
  home: string;
  /** Settings on top of no DRYDOCK_* ones (DRYDOCK_ENDPOINT, DRYDOCK_TOKEN, DRYDOCK_PROJECT…). */
  env?: Record<string, string>;
  /** stdin is a terminal fed with this text (through `script`), and everything lands in `stdout`. */
  terminal?: string;
  /** stdin is a pipe carrying this text. */
  stdin?: string;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * `drydock <args>` with no saved context but what `home` holds and no DRYDOCK_* settings but `env`.
 * `script` (util-linux, on every Debian) gives the CLI a terminal on stdin, the only way to see it ask.
 */
export function runCli(args: string[], options: CliRunOptions): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", DRYDOCK_HOME: options.home };
  for (const name of ["DRYDOCK_ENDPOINT", "DRYDOCK_TOKEN", "DRYDOCK_PROJECT"]) delete env[name];
  Object.assign(env, options.env);
  const command = [process.execPath, "--import", "tsx", "src/cli.ts", ...args];
  const input = options.terminal ?? options.stdin;
  const child =
    options.terminal === undefined
      ? spawn(command[0] as string, command.slice(1), {
          cwd: CLI_PACKAGE,
          env,
          stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        })
      : spawn("script", ["-qec", command.map(quote).join(" "), "/dev/null"], {
          cwd: CLI_PACKAGE,
          env,
          stdio: ["pipe", "pipe", "pipe"],
        });
  if (input !== undefined) child.stdin?.end(input);
  return new Promise((resolvePromise, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`drydock ${args.join(" ")} timed out\n${stdout}\n${stderr}`));
    }, 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}
