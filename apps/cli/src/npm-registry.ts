import { execFile } from "node:child_process";

/**
 * The npm registry this machine's npm uses from `cwd` (its .npmrc files and npm_config_* settings), for
 * `npm install` in task image builds; undefined when npm cannot say.
 */
export function readNpmRegistry(cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("npm", ["config", "get", "registry"], { cwd, timeout: 15_000 }, (error, stdout) => {
      const registry = error ? "" : stdout.trim();
      resolve(/^https?:\/\/\S+$/.test(registry) ? registry : undefined);
    });
  });
}
