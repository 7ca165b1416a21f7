import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import type { TaskSpec } from "@drydock/contracts";
import { createTwoFilesPatch } from "diff";
import { extract } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { forkBundle } from "./fork.js";
import { packBundle } from "./pack.js";
import type { PackedBundle } from "./pack.js";
import { taskCodeAt } from "./task-code.js";

let scratch: string;
beforeEach(async () => {
  scratch = await realpath(await mkdtemp(join(tmpdir(), "drydock-fork-test-")));
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const WORKFLOW = [
  'import { task } from "./lib/task.ts";',
  "",
  "function double(x: number): number {",
  "  return x * 2;",
  "}",
  "",
  "export const load = task(",
  '  { name: "load" },',
  "  async () => double(1),",
  ");",
  "",
  "export const train = task(",
  '  { name: "train" },',
  "  async ({ n }: { n: number }) => {",
  "    const doubled = n * 2;",
  "    return doubled + 1;",
  "  },",
  ");",
  "",
  'export const report = task({ name: "report" }, async () => "ok");',
  "",
].join("\n");

const TASK_LIB = [
  "export function task<T>(options: { name: string }, fn: T): T & { options: { name: string } } {",
  "  return Object.assign(fn as object, { options }) as T & { options: { name: string } };",
  "}",
  "",
].join("\n");

async function writeProject(dir: string, workflow: string): Promise<string> {
  const files: Record<string, string> = {
    "package.json": JSON.stringify({ name: "fork-fixture", private: true, type: "module" }),
    "workflow.ts": workflow,
    "lib/task.ts": TASK_LIB,
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return join(dir, "workflow.ts");
}

/** The specs register would send: each task's code found at the line of its `task(` call. */
function specsOf(text: string): TaskSpec[] {
  const lines = text.split("\n");
  return ["load", "train", "report"].map((name) => {
    const line = lines.findIndex((l) => l.startsWith(`export const ${name} = task(`)) + 1;
    const code = taskCodeAt(text, "workflow.ts", line, lines[line - 1]!.indexOf("task(") + 1);
    if (!code) throw new Error(`no task call for ${name}`);
    return {
      name,
      inputs: {},
      required: [],
      output: {},
      retries: 0,
      sourceFile: "workflow.ts",
      code,
    };
  });
}

function diffOf(path: string, before: string, after: string): string {
  return createTwoFilesPatch(`a/${path}`, `b/${path}`, before, after, undefined, undefined, {
    context: 3,
  });
}

async function extractFile(tarball: Buffer, path: string): Promise<string | undefined> {
  const file = join(scratch, "fork.tgz");
  const dest = await mkdtemp(join(scratch, "extract-"));
  await writeFile(file, tarball);
  await extract({ file, cwd: dest });
  return readFile(join(dest, path), "utf8").catch(() => undefined);
}

function byName(tasks: TaskSpec[]): Record<string, TaskSpec> {
  return Object.fromEntries(tasks.map((t) => [t.name, t]));
}

describe("forkBundle", () => {
  let bundle: PackedBundle;
  let tasks: TaskSpec[];
  beforeEach(async () => {
    bundle = await packBundle(await writeProject(join(scratch, "project"), WORKFLOW));
    tasks = specsOf(WORKFLOW);
  });

  it("marks only the task whose body the edit touched; the others keep their hash, their lines shifted", async () => {
    const edited = WORKFLOW.replace(
      "    const doubled = n * 2;\n",
      "    // the fix: triple, not double\n    const doubled = n * 3;\n",
    );
    const patch = diffOf("workflow.ts", WORKFLOW, edited);

    const fork = await forkBundle(bundle.tarball, patch, tasks);

    expect(fork.changedTasks).toEqual(["train"]);
    const before = byName(tasks);
    const after = byName(fork.tasks);
    expect(after.load!.code).toEqual(before.load!.code);
    expect(after.report!.code!.sha256).toBe(before.report!.code!.sha256);
    expect(after.report!.code!.lines).toEqual([21, 21]);
    expect(before.report!.code!.lines).toEqual([20, 20]);
    expect(after.train!.code!.sha256).not.toBe(before.train!.code!.sha256);
    expect(after.train!.code!.lines).toEqual([12, 19]);
    // Registering the fixed file gives the hash the fork computed.
    expect(byName(specsOf(edited)).train!.code).toEqual(after.train!.code);

    expect(await extractFile(fork.tarball, "workflow.ts")).toBe(edited);
    expect(fork.manifest).toEqual(bundle.manifest);
    // The compiled entry is compiled again: a task that opens no IDE runs the edit, not the registered code.
    expect(fork.manifest.compiled).toBe("workflow.drydock.mjs");
    expect(await extractFile(fork.tarball, "workflow.drydock.mjs")).toContain("n * 3");
    // The same writer as packBundle: the fork is byte-for-byte the bundle of the edited project.
    const repacked = await packBundle(await writeProject(join(scratch, "edited"), edited));
    expect(fork.sha256).toBe(repacked.sha256);
    expect(fork.size).toBe(fork.tarball.length);
  });

  it("marks every task changed when the edit touches code outside every task (a shared helper)", async () => {
    const edited = WORKFLOW.replace("  return x * 2;", "  return x * 2 + 0;");
    const fork = await forkBundle(bundle.tarball, diffOf("workflow.ts", WORKFLOW, edited), tasks);

    expect(fork.changedTasks).toEqual(["load", "report", "train"]);
    // Their call text did not change: the hash stays what registering the edited file gives.
    expect(fork.tasks.map((t) => t.code)).toEqual(specsOf(edited).map((t) => t.code));
  });

  it("marks every task changed when the edit touches a file that defines no task", async () => {
    const edited = TASK_LIB.replace("return Object", "return  Object");
    const fork = await forkBundle(bundle.tarball, diffOf("lib/task.ts", TASK_LIB, edited), tasks);
    expect(fork.changedTasks).toEqual(["load", "report", "train"]);
    expect(await extractFile(fork.tarball, "lib/task.ts")).toBe(edited);
  });

  it("adds a new file to the bundle and to the manifest's sources", async () => {
    const patch = createTwoFilesPatch(
      "/dev/null",
      "b/lib/extra.ts",
      "",
      "export const extra = 1;\n",
    );

    const fork = await forkBundle(bundle.tarball, patch, tasks);

    expect(fork.manifest.sources).toEqual(["lib/extra.ts", "lib/task.ts", "workflow.ts"]);
    expect(await extractFile(fork.tarball, "lib/extra.ts")).toBe("export const extra = 1;\n");
    expect(JSON.parse((await extractFile(fork.tarball, "drydock-bundle.json"))!)).toEqual(
      fork.manifest,
    );
    expect(fork.changedTasks).toEqual(["load", "report", "train"]);
  });

  it("deletes a file and drops it from the manifest's sources", async () => {
    const extra = await forkBundle(
      bundle.tarball,
      createTwoFilesPatch("/dev/null", "b/notes.ts", "", "export {};\n"),
      tasks,
    );
    const fork = await forkBundle(
      extra.tarball,
      createTwoFilesPatch("a/notes.ts", "/dev/null", "export {};\n", ""),
      extra.tasks,
    );
    expect(fork.manifest.sources).toEqual(["lib/task.ts", "workflow.ts"]);
    expect(await extractFile(fork.tarball, "notes.ts")).toBeUndefined();
    expect(fork.sha256).toBe(bundle.sha256);
  });

  it("compiles no file from outside the bundle into the fork (the server compiles it): the fork runs its sources", async () => {
    const secret = join(scratch, "server-secret.json");
    await writeFile(secret, JSON.stringify({ password: "hunter2-on-the-server" }));
    const edited = `import stolen from ${JSON.stringify(secret)};\nexport const leak = stolen;\n${WORKFLOW}`;

    const fork = await forkBundle(bundle.tarball, diffOf("workflow.ts", WORKFLOW, edited), tasks);

    expect(fork.manifest.compiled).toBeUndefined();
    expect(await extractFile(fork.tarball, "workflow.drydock.mjs")).toBeUndefined();
    expect(await extractFile(fork.tarball, "workflow.ts")).toBe(edited);
  });

  it("refuses an edit that does not apply, naming the file", async () => {
    const other = WORKFLOW.replace("return doubled + 1;", "return doubled - 1;");
    const patch = diffOf("workflow.ts", other, other.replace("doubled - 1", "doubled - 2"));
    await expect(forkBundle(bundle.tarball, patch, tasks)).rejects.toThrow(
      /workflow\.ts does not apply/,
    );
  });

  it("refuses paths outside the sources: escaping the root, node_modules, the manifest, an absent file", async () => {
    const refuse = (path: string) => forkBundle(bundle.tarball, diffOf(path, "a\n", "b\n"), tasks);
    await expect(refuse("../outside.ts")).rejects.toThrow(
      /\.\.\/outside\.ts is outside the bundle/,
    );
    await expect(refuse("node_modules/zod/index.js")).rejects.toThrow(/inside node_modules/);
    await expect(refuse("drydock-bundle.json")).rejects.toThrow(/bundle's manifest/);
    await expect(refuse("missing.ts")).rejects.toThrow(
      /missing\.ts is changed by the edit but not in the bundle/,
    );
    await expect(
      forkBundle(
        bundle.tarball,
        createTwoFilesPatch("a/workflow.ts", "/dev/null", WORKFLOW, ""),
        tasks,
      ),
    ).rejects.toThrow(/workflow\.ts, the bundle's entry/);
  });

  it("refuses text that is no unified diff", async () => {
    await expect(forkBundle(bundle.tarball, "just some words\n", tasks)).rejects.toThrow(
      "cannot fork: the edit is not a unified diff (it names no file)",
    );
  });

  it("gives back the same bytes for an empty edit", async () => {
    const fork = await forkBundle(bundle.tarball, "", tasks);
    expect(fork.sha256).toBe(bundle.sha256);
    expect(fork.tarball.equals(bundle.tarball)).toBe(true);
    expect(fork.changedTasks).toEqual([]);
    expect(fork.tasks).toEqual(tasks);
  });

  it("marks a task in the edited file changed when its lines are unknown, and finds its call by name", async () => {
    const noLines = tasks.map((t) =>
      t.name === "report" ? { ...t, code: { sha256: t.code!.sha256 } } : t,
    );
    const edited = WORKFLOW.replace("return doubled + 1;", "return doubled + 2;");
    const fork = await forkBundle(bundle.tarball, diffOf("workflow.ts", WORKFLOW, edited), noLines);
    expect(fork.changedTasks).toEqual(["report", "train"]);
    // Its text did not change: found by its name, it keeps its hash and gets its lines.
    expect(byName(fork.tasks).report!.code).toEqual(byName(tasks).report!.code);
    expect(byName(fork.tasks).load!.code).toEqual(byName(tasks).load!.code);
  });

  it("hashes the old hash with the edit for a changed task whose call it cannot find", async () => {
    const train = byName(tasks).train!;
    const ghost: TaskSpec = { ...train, name: "ghost" };
    const edited = WORKFLOW.replace("return doubled + 1;", "return doubled + 2;");
    const patch = diffOf("workflow.ts", WORKFLOW, edited);
    const fork = await forkBundle(bundle.tarball, patch, [...tasks, ghost]);
    expect(fork.changedTasks).toEqual(["ghost", "train"]);
    expect(byName(fork.tasks).ghost!.code).toEqual({
      sha256: createHash("sha256").update(`${train.code!.sha256}\n${patch}`).digest("hex"),
    });
  });
});
