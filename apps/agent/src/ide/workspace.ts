/**
 * The folder an interactive session's VS Code opens: the task's sources as the author wrote them (a
 * writable copy of the extracted bundle, its node_modules linked from the cache), the task's real inputs,
 * and Drydock's generated files — the interactive entrypoint and the resume script (workspace-scripts.ts),
 * `.vscode/launch.json` with `Interactive Debugging` and `Resume Task` (and, for a paused task, the attach
 * configuration and the other two resume choices), and `.vscode/settings.json`. Also
 * turns the edits made there into a unified diff against the registered sources (`drydock changes`).
 */
import { cp, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";

import { BUNDLE_MANIFEST_FILE, LAUNCH_NAMES } from "@drydock/contracts";
import type { BundleManifest, ErrorInfo } from "@drydock/contracts";
import { createTwoFilesPatch } from "diff";

import {
  DATA_DIR,
  ENTRYPOINT_FILE,
  FIRST_RUN_ERROR_FILE,
  INPUTS_FILE,
  RESUME_FILE,
} from "./workspace-files.js";
import { writeWorkspaceScripts } from "./workspace-scripts.js";

export {
  ENTRYPOINT_FILE,
  FIRST_RUN_ERROR_FILE,
  INPUT_OVERRIDE_FILE,
  RESUME_FILE,
} from "./workspace-files.js";
/** Files of the workspace that are Drydock's, not the author's: never part of `drydock changes`. */
const GENERATED = new Set([
  ENTRYPOINT_FILE,
  RESUME_FILE,
  FIRST_RUN_ERROR_FILE,
  BUNDLE_MANIFEST_FILE,
]);
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
  /** The task's process is paused: its inspector, and where it loaded the sources from. */
  paused?: { inspectorUrl: string; loadedFrom: string };
}

/** Creates the workspace and returns its path. */
export async function prepareWorkspace(options: WorkspaceOptions): Promise<string> {
  const { bundleDir, dir } = options;
  const { compiled } = options.manifest;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The sources are copied (they will be edited); the packages stay in the cache, linked. The compiled entry
  // is not the author's and the IDE runs the sources: it stays out.
  await cp(bundleDir, dir, {
    recursive: true,
    filter: (source) => {
      const path = relative(bundleDir, source);
      return path.split(sep)[0] !== "node_modules" && path !== compiled;
    },
  });
  if (await exists(join(bundleDir, "node_modules")))
    await symlink(join(bundleDir, "node_modules"), join(dir, "node_modules"), "dir");

  await mkdir(join(dir, DATA_DIR), { recursive: true });
  await writeFile(join(dir, INPUTS_FILE), `${JSON.stringify(options.inputs, null, 2)}\n`);
  await writeFile(
    join(dir, DATA_DIR, "task.json"),
    `${JSON.stringify({ ...options.task, entry: options.manifest.entry }, null, 2)}\n`,
  );
  await writeWorkspaceScripts(dir, {
    task: options.task,
    entry: options.manifest.entry,
    controlSocket: options.controlSocket,
    controlTokenFile: options.controlTokenFile,
  });
  if (options.firstRunError)
    await writeFile(
      join(dir, FIRST_RUN_ERROR_FILE),
      firstRunErrorText(options.task.name, options.firstRunError),
    );

  await mkdir(join(dir, ".vscode"), { recursive: true });
  await writeFile(
    join(dir, ".vscode", "launch.json"),
    `${JSON.stringify(launchJson(options), null, 2)}\n`,
  );
  await writeFile(
    join(dir, ".vscode", "settings.json"),
    `${JSON.stringify(WORKSPACE_SETTINGS, null, 2)}\n`,
  );
  return dir;
}

/** The command `Interactive Debugging` runs (its runtime, arguments and working directory), for running it by hand or in a test. */
export function entrypointCommand(
  workspace: string,
  nodeBin: string,
): { command: string; args: string[]; cwd: string } {
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
export async function workspaceEdits(
  bundleDir: string,
  manifest: BundleManifest,
  workspace: string,
): Promise<WorkspaceEdit[]> {
  const registered = new Set(manifest.sources);
  const current = new Set(await authorFiles(workspace));
  const paths = [...new Set([...registered, ...current])].sort();
  const edits: WorkspaceEdit[] = [];
  for (const path of paths) {
    // The bundle's own files beside the sources (its package.json) are the baseline too: unchanged, they are no edit.
    const before =
      registered.has(path) || (await exists(join(bundleDir, path)))
        ? await readFile(join(bundleDir, path), "utf8")
        : undefined;
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
export async function workspaceChanges(
  bundleDir: string,
  manifest: BundleManifest,
  workspace: string,
): Promise<string> {
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
  const resume = { ...common, program: `\${workspaceFolder}/${RESUME_FILE}` };
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
      { name: LAUNCH_NAMES.resume, ...resume },
      ...(options.paused ? pausedConfigurations(options.paused, resume) : []),
    ],
  };
}

/** A paused task's session: attach to the paused process, and resume with the original code or as failed. */
function pausedConfigurations(
  paused: NonNullable<WorkspaceOptions["paused"]>,
  resume: Record<string, unknown>,
) {
  return [
    {
      name: LAUNCH_NAMES.attach,
      type: "node",
      request: "attach",
      // A Unix socket in the session's private directory: nothing listens on TCP.
      websocketAddress: paused.inspectorUrl,
      // The process runs the extracted bundle; the workspace is a copy of it, so the paths map one to one.
      localRoot: "${workspaceFolder}",
      remoteRoot: paused.loadedFrom,
      sourceMaps: true,
      resolveSourceMapLocations: ["**", "!**/node_modules/**"],
      skipFiles: ["<node_internals>/**"],
    },
    { name: LAUNCH_NAMES.resumeOriginal, ...resume, args: ["--original"] },
    { name: LAUNCH_NAMES.resumeFail, ...resume, args: ["--fail"] },
  ];
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
