import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { LAUNCH_NAMES } from "@drydock/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { prepareWorkspace, RESUME_FILE, workspaceEdits } from "./workspace.js";
import type { WorkspaceOptions } from "./workspace.js";

let dir: string;
let options: Omit<WorkspaceOptions, "dir">;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-workspace-test-"));
  const bundle = join(dir, "bundle");
  await mkdir(bundle);
  await writeFile(join(bundle, "task.ts"), "export const x = 1;\n");
  options = {
    bundleDir: bundle,
    manifest: { formatVersion: 1, entry: "task.ts", sources: ["task.ts"], packages: {} },
    task: { name: "echo", executionId: "x1", nodeId: "n0", attemptNumber: 1 },
    inputs: { x: 1 },
    controlSocket: join(dir, "control.sock"),
    controlTokenFile: join(dir, "control.token"),
    nodeBin: process.execPath,
  };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface LaunchConfiguration {
  name: string;
  [key: string]: unknown;
}
async function launchConfigurations(workspace: string): Promise<LaunchConfiguration[]> {
  const launch = JSON.parse(await readFile(join(workspace, ".vscode", "launch.json"), "utf8")) as {
    configurations: LaunchConfiguration[];
  };
  return launch.configurations;
}

describe("a session's workspace", () => {
  it("holds the sources but not the bundle's compiled entry, which is no edit of the author's", async () => {
    const bundleDir = join(dir, "compiled-bundle");
    await mkdir(bundleDir);
    await writeFile(join(bundleDir, "task.ts"), "export const x = 1;\n");
    await writeFile(join(bundleDir, "task.drydock.mjs"), "export const x = 1;\n");
    const manifest = { ...options.manifest, compiled: "task.drydock.mjs" };
    const workspace = await prepareWorkspace({
      ...options,
      bundleDir,
      manifest,
      dir: join(dir, "compiled"),
    });
    const files = await readdir(workspace);
    expect(files).toContain("task.ts");
    expect(files).not.toContain("task.drydock.mjs");
    expect(await workspaceEdits(bundleDir, manifest, workspace)).toEqual([]);
  });
});

describe("a session's launch configurations", () => {
  it("are Interactive Debugging and Resume Task for a task that is not paused", async () => {
    const workspace = await prepareWorkspace({ ...options, dir: join(dir, "plain") });
    expect((await launchConfigurations(workspace)).map((c) => c.name)).toEqual([
      LAUNCH_NAMES.debug,
      LAUNCH_NAMES.resume,
    ]);
  });

  it("attach to a paused task's process over its inspector socket, and resume it with its original code or as failed", async () => {
    const workspace = await prepareWorkspace({
      ...options,
      dir: join(dir, "paused"),
      paused: {
        inspectorUrl: `ws+unix:${join(dir, "inspector.sock")}:/`,
        loadedFrom: options.bundleDir,
      },
    });
    const configurations = await launchConfigurations(workspace);
    expect(configurations.map((c) => c.name)).toEqual([
      LAUNCH_NAMES.debug,
      LAUNCH_NAMES.resume,
      LAUNCH_NAMES.attach,
      LAUNCH_NAMES.resumeOriginal,
      LAUNCH_NAMES.resumeFail,
    ]);
    const byName = new Map(configurations.map((c) => [c.name, c]));
    expect(byName.get(LAUNCH_NAMES.attach)).toEqual({
      name: "Attach to Paused Task",
      type: "node",
      request: "attach",
      websocketAddress: `ws+unix:${join(dir, "inspector.sock")}:/`,
      localRoot: "${workspaceFolder}",
      remoteRoot: options.bundleDir,
      sourceMaps: true,
      resolveSourceMapLocations: ["**", "!**/node_modules/**"],
      skipFiles: ["<node_internals>/**"],
    });
    const resume = byName.get(LAUNCH_NAMES.resume);
    expect(resume).toMatchObject({ program: `\${workspaceFolder}/${RESUME_FILE}` });
    expect(resume).not.toHaveProperty("args");
    for (const [name, flag] of [
      [LAUNCH_NAMES.resumeOriginal, "--original"],
      [LAUNCH_NAMES.resumeFail, "--fail"],
    ] as const)
      expect(byName.get(name)).toEqual({ ...resume, name, args: [flag] });
  });
});
