import { defineConfig } from "tsup";
import type { Options } from "tsup";

/**
 * The programs the agent copies into every session's workspace (src/ide/scripts/). They run with plain
 * `node` there, where no package of the agent's resolves, so everything they import is bundled in.
 */
export const workspaceScripts: Options = {
  entry: { entrypoint: "src/ide/scripts/entrypoint.ts", resume: "src/ide/scripts/resume.ts" },
  outDir: "dist/workspace-scripts",
  format: ["esm"],
  outExtension: () => ({ js: ".mjs" }),
  platform: "node",
  target: "node20",
  noExternal: [/.*/],
  splitting: false,
  // The SDK and the contracts define their schemas at module level; the scripts use none of them, so those
  // packages are declared free of side effects and only what the scripts call (findEntities) is kept.
  esbuildPlugins: [
    {
      name: "drydock-packages-without-side-effects",
      setup(build) {
        build.onResolve({ filter: /^(@drydock\/(sdk|contracts)|zod)$/ }, async (args) => {
          if (args.pluginData === "resolving") return undefined;
          const resolved = await build.resolve(args.path, {
            kind: args.kind,
            resolveDir: args.resolveDir,
            pluginData: "resolving",
          });
          return { ...resolved, sideEffects: false };
        });
      },
    },
  ],
  // The copies in a workspace have no map beside them; tsx maps the task's own sources.
  sourcemap: false,
  // Two fixed names, overwritten in place: a session starting meanwhile never finds them gone.
  clean: false,
};

export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      main: "src/main.ts",
      prepare: "src/prepare.ts",
      "process-group": "src/process-group.ts",
      // A child process of the agent, and its worker thread: post-mortem debugging (src/paused/).
      "paused-runner": "src/paused/runner.ts",
      "paused-bridge": "src/paused/bridge.ts",
    },
    format: ["esm"],
    dts: { entry: ["src/index.ts", "src/process-group.ts"] },
    // dist/workspace-scripts is the other build's.
    clean: ["!workspace-scripts/**"],
    sourcemap: true,
    target: "node20",
  },
  workspaceScripts,
]);
