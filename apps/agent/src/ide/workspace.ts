/**
 * The folder an interactive session's VS Code opens: the task's sources as the author wrote them (a
 * writable copy of the extracted bundle, its node_modules linked from the cache), the task's real inputs,
 * and the generated files of J4 — the interactive entrypoint, the resume script, `.vscode/launch.json` with
 * `Interactive Debugging` and `Resume Task`, and `.vscode/settings.json`. Also turns the edits made there
 * into a unified diff against the registered sources (`drydock changes`).
 */
import { cp, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

import type { BundleManifest, ErrorInfo } from "@drydock/contracts";
import { createTwoFilesPatch } from "diff";

export const ENTRYPOINT_FILE = "drydock_interactive_entrypoint.mjs";
export const RESUME_FILE = "drydock_resume_task.mjs";
export const FIRST_RUN_ERROR_FILE = "DRYDOCK_FIRST_RUN_ERROR.txt";
/** Names of the launch configurations, exactly as J2 and J3 name them. */
export const LAUNCH_NAMES = { debug: "Interactive Debugging", resume: "Resume Task" } as const;
/** Inputs that Interactive Debugging uses instead of the received ones when present (the extension writes it); Resume Task never reads it. */
export const INPUT_OVERRIDE_FILE = ".drydock/inputs.override.json";
/** Where the session's own data lives inside the workspace: the inputs and the task's description. */
const DATA_DIR = ".drydock";
const BUNDLE_MANIFEST_FILE = "drydock-bundle.json";
/** Files of the workspace that are Drydock's, not the author's: never part of `drydock changes`. */
const GENERATED = new Set([ENTRYPOINT_FILE, RESUME_FILE, FIRST_RUN_ERROR_FILE, BUNDLE_MANIFEST_FILE]);
const NOT_SOURCES = new Set(["node_modules", DATA_DIR, ".vscode", ".git"]);
/** New files larger than this are not put in the patch (a data file the user wrote, say). */
const MAX_NEW_FILE_BYTES = 1024 * 1024;

export interface WorkspaceOptions {
  /** The extracted bundle in the cache (read-only: never edited). */
  bundleDir: string;
  manifest: BundleManifest;
  /** Where to create the workspace (inside the attempt's private directory). */
  dir: string;
  task: { name: string; executionId: string; nodeId: string; attemptNumber: number };
  inputs: Record<string, unknown>;
  /** The agent's control socket, where the resume script asks to resume. */
  controlSocket: string;
  /** The file (0600, beside the socket) holding the session's control token, for the scripts run outside the IDE's terminals. */
  controlTokenFile: string;
  /** The Node binary the launch configurations run (the agent's own). */
  nodeBin: string;
  /** With runTaskFirst: the first run's error, written into the workspace for the user to read. */
  firstRunError?: ErrorInfo;
}

/** Creates the workspace and returns its path. */
export async function prepareWorkspace(options: WorkspaceOptions): Promise<string> {
  const { bundleDir, dir } = options;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The sources are copied (they will be edited); the packages stay in the cache, linked.
  await cp(bundleDir, dir, {
    recursive: true,
    filter: (source) => relative(bundleDir, source).split(sep)[0] !== "node_modules",
  });
  if (await exists(join(bundleDir, "node_modules"))) await symlink(join(bundleDir, "node_modules"), join(dir, "node_modules"), "dir");

  await mkdir(join(dir, DATA_DIR), { recursive: true });
  await writeFile(join(dir, DATA_DIR, "inputs.json"), `${JSON.stringify(options.inputs, null, 2)}\n`);
  await writeFile(join(dir, DATA_DIR, "task.json"), `${JSON.stringify({ ...options.task, entry: options.manifest.entry }, null, 2)}\n`);
  await writeFile(join(dir, ENTRYPOINT_FILE), entrypointSource(options));
  await writeFile(join(dir, RESUME_FILE), resumeSource(options));
  if (options.firstRunError) await writeFile(join(dir, FIRST_RUN_ERROR_FILE), firstRunErrorText(options.task.name, options.firstRunError));

  await mkdir(join(dir, ".vscode"), { recursive: true });
  await writeFile(join(dir, ".vscode", "launch.json"), `${JSON.stringify(launchJson(options), null, 2)}\n`);
  await writeFile(join(dir, ".vscode", "settings.json"), `${JSON.stringify(WORKSPACE_SETTINGS, null, 2)}\n`);
  return dir;
}

/** The command `Interactive Debugging` runs (its runtime, arguments and working directory), for running it by hand or in a test. */
export function debugCommand(workspace: string, nodeBin: string): { command: string; args: string[]; cwd: string } {
  return { command: nodeBin, args: [join(workspace, ENTRYPOINT_FILE)], cwd: workspace };
}

/** One file the IDE changed: its registered text (absent for a new file), its text now (absent once deleted), the diff. */
export interface WorkspaceEdit {
  path: string;
  before: string | undefined;
  after: string | undefined;
  patch: string;
}

/**
 * The IDE's edits against the registered sources, file by file: changed and deleted sources, and new files the
 * user created (Drydock's own files and node_modules aside).
 */
export async function workspaceEdits(bundleDir: string, manifest: BundleManifest, workspace: string): Promise<WorkspaceEdit[]> {
  const registered = new Set(manifest.sources);
  const current = new Set(await authorFiles(workspace));
  const paths = [...new Set([...registered, ...current])].sort();
  const edits: WorkspaceEdit[] = [];
  for (const path of paths) {
    // The bundle's own files beside the sources (its package.json) are the baseline too: unchanged, they are no edit.
    const before = registered.has(path) || (await exists(join(bundleDir, path))) ? await readFile(join(bundleDir, path), "utf8") : undefined;
    let after: string | undefined;
    if (current.has(path)) {
      const size = (await stat(join(workspace, path))).size;
      if (before === undefined && size > MAX_NEW_FILE_BYTES) continue;
      after = await readFile(join(workspace, path), "utf8");
    }
    if (before === after) continue;
    const patch = createTwoFilesPatch(
      before === undefined ? "/dev/null" : `a/${path}`,
      after === undefined ? "/dev/null" : `b/${path}`,
      before ?? "",
      after ?? "",
      undefined,
      undefined,
      { context: 3 },
    ).replace(/^={67}\n/, "");
    edits.push({ path, before, after, patch });
  }
  return edits;
}

/** The IDE's edits as one unified diff against the registered sources; "" when nothing changed. */
export async function workspaceChanges(bundleDir: string, manifest: BundleManifest, workspace: string): Promise<string> {
  return (await workspaceEdits(bundleDir, manifest, workspace)).map((e) => e.patch).join("");
}

/** Files under `root` an author may have written, as posix paths relative to it. */
async function authorFiles(root: string, dir = root): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(root, path).split(sep).join("/");
    if (dir === root && (NOT_SOURCES.has(entry.name) || GENERATED.has(entry.name))) continue;
    if (entry.isDirectory()) {
      if (entry.name === "node_modules") continue;
      found.push(...(await authorFiles(root, path)));
    } else if (entry.isFile()) found.push(rel);
  }
  return found;
}

const WORKSPACE_SETTINGS = {
  "files.exclude": { node_modules: true, [DATA_DIR]: true, [BUNDLE_MANIFEST_FILE]: true },
  "search.exclude": { node_modules: true },
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "telemetry.telemetryLevel": "off",
  "remote.autoForwardPorts": false,
  "typescript.disableAutomaticTypeAcquisition": true,
  "debug.javascript.autoAttachFilter": "disabled",
  "git.enabled": false,
  // The DOM renderer: terminals work in browsers without a GPU, and their text is in the page (tests, screen readers).
  "terminal.integrated.gpuAcceleration": "off",
};

/** The settings of the session's VS Code profile: what must hold before any workspace opens. */
export const USER_SETTINGS = {
  ...WORKSPACE_SETTINGS,
  // Application-wide settings, which VS Code reads from the user's settings only (a workspace's are refused).
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": "off",
  "update.mode": "none",
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "workbench.tips.enabled": false,
  // No AI chat beside the task: it needs an account and the network, and takes a third of the window.
  "chat.disableAIFeatures": true,
  "chat.commandCenter.enabled": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
};

function launchJson(options: WorkspaceOptions) {
  const common = {
    type: "node",
    request: "launch",
    runtimeExecutable: options.nodeBin,
    cwd: "${workspaceFolder}",
    console: "integratedTerminal",
    skipFiles: ["<node_internals>/**"],
  };
  return {
    version: "0.2.0",
    configurations: [
      {
        name: LAUNCH_NAMES.debug,
        ...common,
        program: `\${workspaceFolder}/${ENTRYPOINT_FILE}`,
        sourceMaps: true,
        // tsx compiles the .ts sources in memory with inline source maps: breakpoints bind in the .ts files.
        resolveSourceMapLocations: ["${workspaceFolder}/**", "!**/node_modules/**"],
      },
      { name: LAUNCH_NAMES.resume, ...common, program: `\${workspaceFolder}/${RESUME_FILE}` },
    ],
  };
}

/** Where `tsx/esm` (the TypeScript loader the agent itself uses) lives, as a file URL. */
function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve("tsx/package.json");
  const exports = (require(packageJson) as { exports: Record<string, string | { import?: string }> }).exports["./esm"];
  const target = typeof exports === "string" ? exports : exports?.import;
  if (!target) throw new Error(`tsx at ${dirname(packageJson)} has no "./esm" export`);
  return pathToFileURL(join(dirname(packageJson), target)).href;
}

function header(options: WorkspaceOptions, lines: string[]): string {
  const { task } = options;
  return [
    `// Generated by Drydock for task "${task.name}" (execution ${task.executionId}, node ${task.nodeId}, attempt ${task.attemptNumber}).`,
    ...lines.map((line) => `// ${line}`),
    "",
  ].join("\n");
}

function entrypointSource(options: WorkspaceOptions): string {
  return `${header(options, [
    `Runs the task with the inputs it really received (${DATA_DIR}/inputs.json), from the sources in this folder,`,
    "edits included, and prints its result. It writes no outputs: run it as often as you like, under the",
    `debugger ("${LAUNCH_NAMES.debug}", F5) or by hand: node ${ENTRYPOINT_FILE}`,
    `"${LAUNCH_NAMES.resume}" is what runs the task for real.`,
  ])}
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";

const TASK = ${JSON.stringify(options.task.name)};
const ENTRY = ${JSON.stringify(options.manifest.entry)};
const ENTITY = Symbol.for("drydock.entity");

// Stack traces point at the .ts lines, and TypeScript is loaded the way the agent loads it.
process.setSourceMapsEnabled(true);
await import(${JSON.stringify(tsxLoaderUrl())});

const here = dirname(fileURLToPath(import.meta.url));
// An override (the Drydock extension's "Edit Input Override") replaces the received inputs here only.
const override = await readFile(join(here, ${JSON.stringify(INPUT_OVERRIDE_FILE)}), "utf8").catch(() => undefined);
const inputs = JSON.parse(override ?? (await readFile(join(here, ${JSON.stringify(`${DATA_DIR}/inputs.json`)}), "utf8")));
if (override !== undefined) console.log(\`using the input override in ${INPUT_OVERRIDE_FILE}, not the inputs the task received\`);
const module = await import(pathToFileURL(join(here, ENTRY)).href);

function findTask(namespace) {
  const workflows = [];
  for (const value of Object.values(namespace)) {
    const entity = value?.[ENTITY];
    if (entity?.kind === "task" && entity.spec.name === TASK) return entity;
    if (entity?.kind === "workflow") workflows.push(entity);
  }
  for (const workflow of workflows) {
    const found = workflow.taskEntities().get(TASK);
    if (found) return found;
  }
  throw new Error(\`task "\${TASK}" is not defined in \${ENTRY} any more\`);
}

const task = findTask(module);
console.log(\`running \${TASK} with \${inspect(inputs, { depth: 4, breakLength: 120 })}\`);
const output = await task.execute(inputs);
console.log(\`\${TASK} returned \${JSON.stringify(output)}\`);
`;
}

function resumeSource(options: WorkspaceOptions): string {
  return `${header(options, [
    "Asks for confirmation, then resumes the task: code-server stops (this window disconnects) and the task",
    "runs for real with the sources in this folder, edits included, and the inputs it received; its output",
    `goes downstream. Run it as "${LAUNCH_NAMES.resume}" or by hand: node ${RESUME_FILE} [--yes]`,
  ])}
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { createInterface } from "node:readline/promises";

const TASK = ${JSON.stringify(options.task.name)};
// The IDE's processes (its terminals included) get the agent's control socket and token from code-server;
// another shell of the same user reads the token from its file, which only that user can read.
const CONTROL_SOCKET = process.env.DRYDOCK_CONTROL_SOCKET ?? ${JSON.stringify(options.controlSocket)};
const CONTROL_TOKEN = process.env.DRYDOCK_CONTROL_TOKEN ?? readToken(${JSON.stringify(options.controlTokenFile)});

function readToken(file) {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

async function confirmed() {
  if (process.argv.includes("--yes")) return true;
  if (!process.stdin.isTTY) {
    console.error("resume: no terminal to ask for confirmation; run it with --yes");
    process.exit(2);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(\`Resume task \${TASK}? code-server stops and the task runs with the edited sources [y/N] \`);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

if (!CONTROL_TOKEN) {
  console.error("resume: DRYDOCK_CONTROL_TOKEN is not set and the session's token file is gone; run this from a terminal of the task's VS Code");
  process.exit(2);
}
if (!(await confirmed())) {
  console.log("not resumed");
  process.exit(1);
}
// The agent's "resume" procedure (tRPC over HTTP on its control socket).
const answer = await new Promise((resolve, reject) => {
  const req = request(
    { socketPath: CONTROL_SOCKET, path: "/resume", method: "POST", headers: { authorization: \`Bearer \${CONTROL_TOKEN}\`, "content-type": "application/json" } },
    (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    },
  );
  req.on("error", reject);
  req.end("{}");
}).catch((error) => {
  console.error(\`resume: the agent is not answering on \${CONTROL_SOCKET}: \${error.message}\`);
  process.exit(1);
});
const reply = JSON.parse(answer.body);
const result = reply.result?.data;
console.log(result?.message ?? \`resume: the agent refused: \${reply.error?.message ?? answer.body}\`);
process.exit(result?.accepted ? 0 : 1);
`;
}

function firstRunErrorText(taskName: string, error: ErrorInfo): string {
  return [
    `The first run of task "${taskName}" failed, so this IDE opened (runTaskFirst).`,
    "",
    error.stack ?? `${error.name ?? "Error"}: ${error.message}`,
    "",
    `Fix the sources, try them with "${LAUNCH_NAMES.debug}", then "${LAUNCH_NAMES.resume}" runs the task again.`,
    "",
  ].join("\n");
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
