import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { forkBundle, packBundle } from "@drydock/bundle";
import { DEFAULT_PROJECT } from "@drydock/contracts";
import { readServerConfig, startServer } from "@drydock/server";
import type { RunningServer } from "@drydock/server";
import { createTwoFilesPatch } from "diff";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createApiClient } from "./client.js";
import type { ApiClient } from "./client.js";
import { loadWorkflowFile } from "./load.js";
import { Progress } from "./progress.js";
import { registerFile } from "./register.js";
import { CLI_PACKAGE } from "./test/run-cli.js";

const run = promisify(execFile);

// Two tasks and a workflow; `task(` of `load` is on line 4 and of `train` on line 9, at column 21.
const WORKFLOW = `import { task, workflow } from "@drydock/sdk";
import { z } from "zod";

export const load = task(
  { name: "load", inputs: {}, output: z.number() },
  async () => 1,
);

export const train = task(
  { name: "train", inputs: { n: z.number() }, output: z.number(), cache: true },
  async ({ n }) => n * 2,
);

export const wf = workflow({ name: "origin_wf" }, () => train({ n: load({}) }));
`;
const FIXED = WORKFLOW.replace(
  "async ({ n }) => n * 2,",
  "async ({ n }) => {\n    return n * 3;\n  },",
);

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

let scratch: string;
let dataDir: string;
let server: RunningServer;
let api: ApiClient;
let close: () => void;

beforeAll(async () => {
  scratch = await realpath(await mkdtemp(join(tmpdir(), "drydock-register-test-")));
  dataDir = await mkdtemp(join(tmpdir(), "drydock-register-server-"));
  server = await startServer(
    readServerConfig({ DRYDOCK_LOG_LEVEL: "silent" }, { port: 0, dataDir }),
  );
  ({ api, close } = createApiClient({ endpoint: server.url, token: server.token }));
}, 120_000);
afterAll(async () => {
  close?.();
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

/** A git repository holding the workflow, with the SDK and zod linked in as an installed project has them. */
async function makeProject(): Promise<string> {
  const dir = join(scratch, "project");
  await mkdir(join(dir, "node_modules", "@drydock"), { recursive: true });
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "origin-fixture", private: true, type: "module" }),
  );
  await writeFile(join(dir, "workflow.ts"), WORKFLOW);
  for (const name of ["@drydock/sdk", "zod"])
    await symlink(
      await realpath(join(CLI_PACKAGE, "node_modules", name)),
      join(dir, "node_modules", name),
      "dir",
    );
  await writeFile(join(dir, ".gitignore"), "node_modules\n");
  const git = (...args: string[]) =>
    run("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir });
  await git("init", "-q", "-b", "main");
  await git("add", ".");
  await git("commit", "-q", "-m", "workflow");
  return dir;
}

describe("registerFile", { timeout: 120_000 }, () => {
  it("records each task's code and where the sources came from; a fork's hash is what registering the fix gives", async () => {
    const dir = await makeProject();
    const file = join(dir, "workflow.ts");
    const quiet = new Progress(false, true);
    const head = (await run("git", ["rev-parse", "HEAD"], { cwd: dir })).stdout.trim();

    const first = await registerFile(api, DEFAULT_PROJECT, await loadWorkflowFile(file), quiet);
    const version = await api.workflows.get.query({ project: DEFAULT_PROJECT, name: "origin_wf" });
    expect(version.version).toBe(first.versions.get("origin_wf"));
    const tasks = Object.fromEntries(version.tasks.map((t) => [t.name, t]));
    expect(tasks.load?.sourceFile).toBe("workflow.ts");
    expect(tasks.load?.code).toEqual({
      sha256: sha256(
        'task(\n  { name: "load", inputs: {}, output: z.number() },\n  async () => 1,\n)',
      ),
      lines: [4, 7],
    });
    expect(tasks.train?.code?.lines).toEqual([9, 12]);
    expect(tasks.train?.cache).toEqual({});
    expect(version.origin).toEqual({
      host: expect.any(String) as string,
      root: dir,
      files: { "workflow.ts": sha256(WORKFLOW) },
      git: { toplevel: dir, commit: head, branch: "main", dirty: false, dirtyFiles: [] },
    });

    // The IDE's fix, forked on the registered bundle (packing is deterministic: the same bundle).
    const bundle = await packBundle(file);
    expect(bundle.sha256).toBe(first.bundle);
    const patch = createTwoFilesPatch("a/workflow.ts", "b/workflow.ts", WORKFLOW, FIXED);
    const fork = await forkBundle(bundle.tarball, patch, version.tasks);
    expect(fork.changedTasks).toEqual(["train"]);

    // The user registers the fixed file, uncommitted: the same code hashes, and the origin says dirty.
    await writeFile(file, FIXED);
    await registerFile(api, DEFAULT_PROJECT, await loadWorkflowFile(file), quiet);
    const fixed = await api.workflows.get.query({ project: DEFAULT_PROJECT, name: "origin_wf" });
    expect(fixed.version).not.toBe(version.version);
    expect(fixed.tasks.map((t) => [t.name, t.code])).toEqual(
      fork.tasks.map((t) => [t.name, t.code]),
    );
    expect(fixed.origin?.git).toMatchObject({
      commit: head,
      dirty: true,
      dirtyFiles: ["workflow.ts"],
    });
    expect(fixed.origin?.files["workflow.ts"]).toBe(sha256(await readFile(file, "utf8")));
  });
});
