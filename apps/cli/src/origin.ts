/**
 * Where a registration's sources came from: this machine, the bundle root, each source's sha256, and the git
 * working tree around them (commit, branch, which sources differ from it). `drydock changes --apply/--commit`
 * later needs it to know where an IDE's edit goes and whether it still applies.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, realpath } from "node:fs/promises";
import { hostname } from "node:os";
import { join, relative, sep } from "node:path";

import type { GitOrigin, SourceOrigin } from "@drydock/contracts";

/** The origin of sources `sources` (paths relative to `root`, as in the bundle manifest). */
export async function sourceOrigin(
  root: string,
  sources: readonly string[],
): Promise<SourceOrigin> {
  const files: Record<string, string> = {};
  for (const path of sources) {
    files[path] = createHash("sha256")
      .update(await readFile(join(root, ...path.split("/"))))
      .digest("hex");
  }
  const git = await gitOrigin(root, sources);
  return { host: hostname(), root, files, ...(git ? { git } : {}) };
}

/**
 * The git working tree holding `root`, or undefined when there is none (not a repository, no commit yet, or
 * no git installed): registering never fails for want of git.
 */
export async function gitOrigin(
  root: string,
  sources: readonly string[],
): Promise<GitOrigin | undefined> {
  const toplevelOut = await git(root, ["rev-parse", "--show-toplevel"]);
  if (toplevelOut === undefined) return undefined;
  const commit = (await git(root, ["rev-parse", "--verify", "-q", "HEAD^{commit}"]))?.trim();
  if (!commit || !/^[0-9a-f]{40}$/.test(commit)) return undefined;
  const toplevel = await realpath(toplevelOut.trim());
  const branch = (await git(root, ["symbolic-ref", "--short", "-q", "HEAD"]))?.trim();

  const dirtyFiles: string[] = [];
  if (sources.length > 0) {
    const status = await git(root, [
      "--literal-pathspecs",
      "status",
      "--porcelain",
      "-z",
      "--untracked-files=all",
      "--",
      ...sources,
    ]);
    const realRoot = await realpath(root);
    const wanted = new Set(sources);
    for (const path of porcelainPaths(status ?? "")) {
      const fromRoot = relative(realRoot, join(toplevel, path)).split(sep).join("/");
      if (wanted.has(fromRoot) && !dirtyFiles.includes(fromRoot)) dirtyFiles.push(fromRoot);
    }
  }
  dirtyFiles.sort();
  return {
    toplevel,
    commit,
    ...(branch ? { branch } : {}),
    dirty: dirtyFiles.length > 0,
    dirtyFiles,
  };
}

/** The paths (relative to the top level) of `git status --porcelain -z`; a rename's or copy's both paths. */
function porcelainPaths(output: string): string[] {
  const records = output.split("\0");
  const paths: string[] = [];
  for (let i = 0; i < records.length; i += 1) {
    const record = records[i];
    if (!record || record.length < 4) continue;
    paths.push(record.slice(3));
    // `R  new\0old\0`: the old path is the next record.
    const origin = records[i + 1];
    if (/^[RC]/.test(record) && origin !== undefined) {
      paths.push(origin);
      i += 1;
    }
  }
  return paths;
}

/** One progress line: `sources: git abc1234 on main (clean)`. */
export function describeOrigin(origin: SourceOrigin): string {
  const { git: tree } = origin;
  if (!tree) return "sources: not in a git working tree (no commit recorded)";
  const where = tree.branch ? `on ${tree.branch}` : "(detached HEAD)";
  const state = tree.dirty
    ? `dirty: ${tree.dirtyFiles.length} file${tree.dirtyFiles.length === 1 ? "" : "s"}`
    : "clean";
  return `sources: git ${tree.commit.slice(0, 7)} ${where} (${state})`;
}

/** `git …` run in `cwd` without a shell; its stdout, or undefined when git is missing or the command fails. */
function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(
      "git",
      ["--no-optional-locks", ...args],
      { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => done(error ? undefined : stdout),
    );
  });
}
