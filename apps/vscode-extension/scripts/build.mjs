/**
 * Builds the extension: esbuild bundles src/extension.ts into one CommonJS file (`vscode` is the only
 * external: the extension host provides it; everything else, @trpc/client included, is inside), then
 * `vsce package --no-dependencies` packages it as dist/drydock.vsix.
 *
 * vsce packages a staged copy, not this folder: the workspace package must be named
 * `@drydock/vscode-extension` (other packages resolve `@drydock/vscode-extension/vsix`), and an extension's
 * name cannot hold a scope. The stage holds the manifest fields of package.json under the name `drydock`,
 * the README and the bundle — and so does the .vsix, nothing else.
 *
 * `--watch` rebuilds the bundle on every change and skips packaging.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

import { build, context } from "esbuild";

const EXTENSION_NAME = "drydock";
/** What VS Code reads from an extension's manifest; the rest of package.json is the workspace's. */
const MANIFEST_FIELDS = [
  "version",
  "publisher",
  "displayName",
  "description",
  "engines",
  "categories",
  "main",
  "activationEvents",
  "contributes",
];

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, "dist");
const bundle = join(dist, "extension.cjs");
const vsix = join(dist, `${EXTENSION_NAME}.vsix`);

/** @type {import("esbuild").BuildOptions} */
const options = {
  entryPoints: [join(root, "src", "extension.ts")],
  outfile: bundle,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  external: ["vscode"],
  // Prefer ES modules: jsonc-parser's "main" is a UMD build whose `require` esbuild cannot follow.
  mainFields: ["module", "main"],
  // Readable stack traces in the Drydock output channel matter more than the few kilobytes minifying saves.
  minify: false,
  sourcemap: false,
  legalComments: "none",
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await context(options);
  await ctx.watch();
} else {
  await rm(dist, { recursive: true, force: true });
  await build(options);
  await packageVsix();
}

async function packageVsix() {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  const manifest = {
    name: EXTENSION_NAME,
    ...Object.fromEntries(
      MANIFEST_FIELDS.filter((key) => key in pkg).map((key) => [key, pkg[key]]),
    ),
    // vsce's allow-list (package.json and the README always go in): the bundle, nothing else.
    files: ["dist/extension.cjs"],
  };
  const stage = await mkdtemp(join(tmpdir(), "drydock-vsix-"));
  try {
    await writeFile(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    await cp(join(root, "README.md"), join(stage, "README.md"));
    await mkdir(join(stage, "dist"));
    await cp(bundle, join(stage, "dist", "extension.cjs"));
    const vsce = createRequire(import.meta.url).resolve("@vscode/vsce/vsce");
    // No repository and no LICENSE: the extension is private to Drydock and never published to a marketplace.
    const args = [
      "package",
      "--no-dependencies",
      "--allow-missing-repository",
      "--skip-license",
      "--no-rewrite-relative-links",
      "--out",
      vsix,
    ];
    // No standard input: were vsce to ask a question (it does on manifest warnings), the build fails instead of hanging.
    const child = spawn(process.execPath, [vsce, ...args], {
      cwd: stage,
      stdio: ["ignore", "inherit", "inherit"],
    });
    const [code] = await once(child, "exit");
    if (code !== 0) throw new Error(`vsce package exited with ${code}`);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  process.stdout.write(`${vsix} (${(await stat(vsix)).size} bytes)\n`);
}
