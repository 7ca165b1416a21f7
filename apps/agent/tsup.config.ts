import { defineConfig } from "tsup";
import type { Options } from "tsup";

/**
 * The SDK and the contracts define their schemas at module level; a program bundled with them that uses none
 * (only findEntities) would still build them all, zod included, when it starts. Declared free of side
 * effects, those packages keep only what the program calls.
 */
const withoutSideEffects: NonNullable<Options["esbuildPlugins"]>[number] = {
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
};

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
  // The scripts call findEntities and nothing else of the SDK: see withoutSideEffects.
  esbuildPlugins: [withoutSideEffects],
  // The copies in a workspace have no map beside them; tsx maps the task's own sources.
  sourcemap: false,
  // Two fixed names, overwritten in place: a session starting meanwhile never finds them gone.
  clean: false,
};

export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      prepare: "src/prepare.ts",
      "process-group": "src/process-group.ts",
    },
    format: ["esm"],
    dts: { entry: ["src/index.ts", "src/process-group.ts"] },
    // dist/main.js, dist/workspace-scripts and dist/paused are the other builds'.
    clean: ["!main.js", "!main.js.map", "!workspace-scripts/**", "!paused/**"],
    sourcemap: true,
    target: "node20",
  },
  {
    // The agent process: every attempt starts one, and a fan-out's cold agents start side by side. One file
    // with its packages in it, so Node resolves and reads one module, not some 150, and parses no source map
    // as it starts (the map is written, for reading a stack by hand). tsx stays a package: its loader thread
    // loads its own files. The IDE's and the debugger's parts are evaluated only when an attempt uses them.
    entry: { main: "src/main.ts" },
    format: ["esm"],
    platform: "node",
    target: "node20",
    noExternal: [/^(?!tsx(?:\/|$))/],
    splitting: false,
    sourcemap: true,
    clean: false,
    // The CommonJS packages bundled in (pino, tar's) call require() for Node's modules.
    banner: {
      js: 'import { createRequire as __drydockCreateRequire } from "node:module";\nconst require = __drydockCreateRequire(import.meta.url);',
    },
  },
  workspaceScripts,
  {
    // A child process of the agent, and its worker thread: post-mortem debugging (src/paused/). Every
    // attempt that may pause starts one, so it starts with the SDK's findEntities bundled in, not the SDK.
    entry: { "paused-runner": "src/paused/runner.ts", "paused-bridge": "src/paused/bridge.ts" },
    outDir: "dist/paused",
    format: ["esm"],
    platform: "node",
    target: "node20",
    noExternal: [/^@drydock\//, "zod"],
    esbuildPlugins: [withoutSideEffects],
    splitting: false,
    sourcemap: true,
    // Two fixed names, overwritten in place, as the workspace scripts.
    clean: false,
  },
]);
