/**
 * The IDE runtime (code-server on its own Node) from the CLI: `drydock ide install`, and `drydock up`'s
 * install at start-up, so that the first interactive task finds it ready instead of failing or waiting in silence.
 */
import type { CliEnv } from "./env.js";
import { processEnv } from "./env.js";
import { Progress } from "./progress.js";

/**
 * Installs the runtime unless it is there; progress on stderr: a line a step, and while one runs, a ticking
 * line on a terminal (a line every 15 s elsewhere). Resolves to code-server's launcher.
 */
export async function provisionIde(progress: Progress, tty: boolean): Promise<string> {
  const { defaultIdeDir, ensureCodeServer } = await import("@drydock/agent");
  const env = processEnv();
  return ensureCodeServer({
    ideDir: defaultIdeDir(env),
    env,
    onProgress: (line) =>
      tty && line.startsWith("  … ")
        ? progress.update(`IDE runtime: ${line.trim()}`)
        : progress.step(line),
  });
}

/** `drydock ide install`: exit 0 with the launcher's path, or 1 with what failed and how to fix it. */
export async function ideInstallCommand(env: CliEnv): Promise<number> {
  const progress = new Progress(env.isTTY);
  try {
    const bin = await provisionIde(progress, env.isTTY);
    progress.step(`IDE runtime ready: ${bin}`);
    return 0;
  } catch (error) {
    progress.step(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
