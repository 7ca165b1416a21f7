import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { describeOrigin, gitOrigin, sourceOrigin } from "./origin.js";

const run = promisify(execFile);

let scratch: string;
beforeEach(async () => {
  scratch = await realpath(await mkdtemp(join(tmpdir(), "drydock-origin-test-")));
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
  });
  return stdout.trim();
}

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A repository whose workflow lives in `project/` (the bundle root), beside a file that is no source. */
async function makeRepo(): Promise<{ repo: string; root: string; commit: string }> {
  const repo = join(scratch, "repo");
  const root = join(repo, "project");
  await write(repo, {
    "README.md": "# repo\n",
    "project/workflow.ts": "export const a = 1;\n",
    "project/lib/helper.ts": "export const b = 2;\n",
  });
  await git(repo, "init", "-q", "-b", "main");
  await git(repo, "add", ".");
  await git(repo, "commit", "-q", "-m", "first");
  return { repo, root, commit: await git(repo, "rev-parse", "HEAD") };
}

const SOURCES = ["lib/helper.ts", "workflow.ts"];

describe("sourceOrigin", () => {
  it("records the host, the root, each source's sha256 and a clean working tree", async () => {
    const { repo, root, commit } = await makeRepo();
    const origin = await sourceOrigin(root, SOURCES);
    expect(origin).toEqual({
      host: hostname(),
      root,
      files: {
        "lib/helper.ts": sha256("export const b = 2;\n"),
        "workflow.ts": sha256("export const a = 1;\n"),
      },
      git: { toplevel: repo, commit, branch: "main", dirty: false, dirtyFiles: [] },
    });
    expect(describeOrigin(origin)).toBe(`sources: git ${commit.slice(0, 7)} on main (clean)`);
  });

  it("lists the sources that are modified, staged or untracked, relative to the bundle root", async () => {
    const { repo, root } = await makeRepo();
    await write(repo, {
      "project/workflow.ts": "export const a = 10;\n",
      "project/lib/new.ts": "export const c = 3;\n",
      "README.md": "# changed, but no source\n",
    });
    await write(repo, { "project/lib/helper.ts": "export const b = 20;\n" });
    await git(repo, "add", "project/lib/helper.ts");

    const tree = await gitOrigin(root, [...SOURCES, "lib/new.ts"]);
    expect(tree?.dirty).toBe(true);
    expect(tree?.dirtyFiles).toEqual(["lib/helper.ts", "lib/new.ts", "workflow.ts"]);

    const origin = await sourceOrigin(root, SOURCES);
    expect(origin.git?.dirtyFiles).toEqual(["lib/helper.ts", "workflow.ts"]);
    expect(origin.files["workflow.ts"]).toBe(sha256("export const a = 10;\n"));
    expect(describeOrigin(origin)).toMatch(/^sources: git [0-9a-f]{7} on main \(dirty: 2 files\)$/);
  });

  it("counts a renamed source as dirty", async () => {
    const { repo, root } = await makeRepo();
    await git(repo, "mv", "project/lib/helper.ts", "project/lib/renamed.ts");
    const tree = await gitOrigin(root, ["lib/renamed.ts", "workflow.ts"]);
    expect(tree?.dirtyFiles).toEqual(["lib/renamed.ts"]);
  });

  it("records no branch on a detached HEAD", async () => {
    const { repo, root, commit } = await makeRepo();
    await git(repo, "checkout", "-q", "--detach", "HEAD");
    const origin = await sourceOrigin(root, SOURCES);
    expect(origin.git).toEqual({ toplevel: repo, commit, dirty: false, dirtyFiles: [] });
    expect(describeOrigin(origin)).toBe(
      `sources: git ${commit.slice(0, 7)} (detached HEAD) (clean)`,
    );
  });

  it("records no git outside a working tree, and none in a repository with no commit", async () => {
    const plain = join(scratch, "plain");
    await write(plain, { "workflow.ts": "export const a = 1;\n" });
    const origin = await sourceOrigin(plain, ["workflow.ts"]);
    expect(origin).toEqual({
      host: hostname(),
      root: plain,
      files: { "workflow.ts": sha256("export const a = 1;\n") },
    });
    expect(describeOrigin(origin)).toBe("sources: not in a git working tree (no commit recorded)");

    const empty = join(scratch, "empty");
    await write(empty, { "workflow.ts": "export const a = 1;\n" });
    await git(empty, "init", "-q");
    expect(await gitOrigin(empty, ["workflow.ts"])).toBeUndefined();
  });
});
