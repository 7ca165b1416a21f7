/**
 * A user's own project outside the monorepo: a temp directory holding copies of fixtures, with a package.json
 * and a node_modules link so they import the SDK as the fixtures in `e2e/` do; optionally a git working tree
 * with one commit. The CLI runs from inside it, as a user would run it there.
 */
import { copyFile, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { drydock, fixture, ROOT, runProcess } from "../harness.js";
import type { CliResult } from "../harness.js";

/** Who commits in the temp repository: the test's own identity, whatever this machine's git config says. */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: "Drydock E2E",
  GIT_AUTHOR_EMAIL: "e2e@drydock.invalid",
  GIT_COMMITTER_NAME: "Drydock E2E",
  GIT_COMMITTER_EMAIL: "e2e@drydock.invalid",
};

export interface UserProject {
  /** The project's directory (its real path: what `drydock register` records). */
  dir: string;
  path(relative: string): string;
  /** Runs git in the project; rejects on a non-zero exit. */
  git(...args: string[]): Promise<string>;
  /** The real `drydock` CLI with the project as its working directory. */
  drydock(args: string[], env?: Record<string, string>): Promise<CliResult>;
  remove(): Promise<void>;
}

/**
 * Copies `files` (project path → fixture path under `e2e/fixtures`) into a new temp project; with `git`, makes
 * it a working tree on `main` with everything committed (node_modules ignored).
 */
export async function userProject(
  files: Record<string, string>,
  options: { git?: boolean } = {},
): Promise<UserProject> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), "drydock-e2e-project-")));
  const path = (relative: string) => join(dir, relative);
  const git = async (...args: string[]) => {
    const result = await runProcess("git", args, { cwd: dir, env: GIT_IDENTITY });
    if (result.code !== 0) throw new Error(`git ${args.join(" ")} failed:\n${result.stderr}`);
    return result.stdout;
  };
  await writeFile(
    path("package.json"),
    `${JSON.stringify({ name: "user-project", private: true, type: "module" }, null, 2)}\n`,
  );
  // The packages the e2e fixtures import, from the monorepo's install.
  await symlink(join(ROOT, "e2e/node_modules"), path("node_modules"));
  for (const [target, source] of Object.entries(files)) {
    await mkdir(dirname(path(target)), { recursive: true });
    await copyFile(fixture(source), path(target));
  }
  if (options.git) {
    await writeFile(path(".gitignore"), "node_modules\n");
    await writeFile(path("README.md"), "A user's workflows.\n");
    await git("init", "-q", "-b", "main");
    await git("add", "-A");
    await git(
      "-c",
      "user.name=Drydock E2E",
      "-c",
      "user.email=e2e@drydock.invalid",
      "commit",
      "-q",
      "-m",
      "The workflows as the user wrote them",
    );
  }
  return {
    dir,
    path,
    git,
    drydock: (args, env = {}) => drydock(args, env, undefined, dir),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
