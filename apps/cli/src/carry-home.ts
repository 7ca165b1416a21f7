/**
 * Carrying an IDE's edit home: `drydock changes --apply` writes it into the files the version was registered
 * from, `--commit` makes it one commit on a new branch of their git repository. Both check everything first
 * and change nothing when any file does not take the edit.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";

import type { SourceOrigin } from "@drydock/contracts";
import { applyPatch, parsePatch } from "diff";
import type { StructuredPatch } from "diff";

import { processEnv } from "./env.js";
import { CliError } from "./errors.js";

const run = promisify(execFile);
const NO_FILE = "/dev/null";

/** One file of the edit: its path under the origin's root and its hunks. */
export interface PatchedFile {
  path: string;
  /** Created by the edit (from /dev/null). */
  created: boolean;
  /** Deleted by the edit (to /dev/null). */
  deleted: boolean;
  patch: StructuredPatch;
}

/** What a file becomes: its new text, or undefined when the edit deletes it. */
export interface FileChange {
  path: string;
  absolute: string;
  after: string | undefined;
  created: boolean;
}

/** The edit made in a node's IDE and where it came from, for messages and the commit. */
export interface EditSubject {
  workflow: string;
  version: string;
  executionId: string;
  nodeId: string;
  task: string;
}

const sha256 = (content: string | Buffer) => createHash("sha256").update(content).digest("hex");

/** `a/src/x.ts` → `src/x.ts`, refusing what would leave the root (absolute, `..`). */
function patchPath(name: string): string {
  const path = name.replace(/^[ab]\//, "");
  const parts = path.split("/");
  if (path === "" || isAbsolute(path) || parts.includes("..") || parts.includes(""))
    throw new CliError(`the edit names the path "${name}", which is outside the sources`, 1);
  return path;
}

/** The edit's files, each with its path relative to the registered root. */
export function patchedFiles(patch: string): PatchedFile[] {
  let parsed: StructuredPatch[];
  try {
    parsed = parsePatch(patch);
  } catch (error) {
    throw new CliError(`the edit is not a readable patch: ${(error as Error).message}`, 1);
  }
  return parsed
    .filter((p) => p.hunks.length > 0)
    .map((p) => {
      const created = p.oldFileName === NO_FILE;
      const deleted = p.newFileName === NO_FILE;
      const name = created ? p.newFileName : p.oldFileName;
      if (name === undefined || name === NO_FILE)
        throw new CliError("the edit has a file with no name", 1);
      return { path: patchPath(name), created, deleted, patch: p };
    });
}

/** Refuses an origin on another machine: its files are not here to change. */
export function checkHost(origin: SourceOrigin, here = hostname()): void {
  if (origin.host !== here)
    throw new CliError(
      `this version was registered on ${origin.host} (from ${origin.root}), not on this machine (${here}): run this there, or apply \`drydock changes\`'s patch by hand`,
      1,
    );
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * What each file of the edit becomes, worked out in memory: refuses (CliError, exit 1) a file changed since
 * it was registered, a file the edit creates that exists already, and any hunk that does not apply.
 */
export async function planApply(patch: string, origin: SourceOrigin): Promise<FileChange[]> {
  const files = patchedFiles(patch);
  if (files.length === 0) throw new CliError("the edit changes no file", 1);
  const changes: FileChange[] = [];
  for (const file of files) {
    const absolute = resolve(origin.root, file.path);
    const current = await readIfExists(absolute);
    if (file.created) {
      if (current !== undefined)
        throw new CliError(
          `${file.path} already exists (${absolute}), and the edit creates it: nothing was changed`,
          1,
        );
    } else {
      if (current === undefined)
        throw new CliError(`${file.path} is no longer there (${absolute}): nothing was changed`, 1);
      const registered = origin.files[file.path];
      // Files the bundle carried beside the sources have no recorded hash: their hunks must apply.
      if (registered !== undefined && sha256(current) !== registered)
        throw new CliError(
          `${file.path} changed since it was registered (${absolute}): nothing was changed; print the edit with \`drydock changes\` and merge it by hand`,
          1,
        );
    }
    const after = applyPatch(current?.toString("utf8") ?? "", file.patch);
    if (after === false)
      throw new CliError(
        `the edit does not apply to ${file.path} (${absolute}): nothing was changed`,
        1,
      );
    changes.push({
      path: file.path,
      absolute,
      after: file.deleted ? undefined : after,
      created: file.created,
    });
  }
  return changes;
}

/** Replaces a file's content in one step: a temporary file beside it, renamed over it (keeping its mode). */
async function replaceFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const mode = await stat(path).then(
    (s) => s.mode & 0o7777,
    () => undefined,
  );
  const temp = join(dirname(path), `.${basename(path)}.drydock-${randomBytes(6).toString("hex")}`);
  try {
    await writeFile(temp, content, mode === undefined ? {} : { mode });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** `--apply`: the edit into the registered files, only once every file took it in memory. */
export async function applyEditHome(patch: string, origin: SourceOrigin): Promise<FileChange[]> {
  checkHost(origin);
  const changes = await planApply(patch, origin);
  for (const change of changes) {
    if (change.after === undefined) await unlink(change.absolute);
    else await replaceFile(change.absolute, change.after);
  }
  return changes;
}

/** `drydock/<execution>-<node>`, with what a branch name cannot hold (`n2[1]`) made into dashes. */
export function defaultBranch(executionId: string, nodeId: string): string {
  const safe = `${executionId}-${nodeId}`
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "");
  return `drydock/${safe}`;
}

/** The commit's message: what was fixed, and where the edit was made. */
export function commitMessage(subject: EditSubject): string {
  return (
    `Fix ${subject.task} from Drydock\n\n` +
    `The edit made in the IDE of node ${subject.nodeId} (task ${subject.task}) of execution ` +
    `${subject.executionId} of workflow ${subject.workflow}, version ${subject.version}.\n`
  );
}

// Settings that would point git at another repository or index than the one named here.
const GIT_LOCATION = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_NAMESPACE",
];

/** A git in `cwd` with a given index file (none: git's own). */
function gitIn(cwd: string, indexFile?: string) {
  const env = { ...processEnv() };
  for (const name of GIT_LOCATION) delete env[name];
  if (indexFile) env.GIT_INDEX_FILE = indexFile;
  const git = async (args: string[]): Promise<string> =>
    (await run("git", args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  /** Whether the command succeeds (exit 0); its failure is the answer, not an error. */
  const succeeds = (args: string[]) =>
    git(args).then(
      () => true,
      () => false,
    );
  const bytes = async (args: string[]): Promise<Buffer> =>
    (await run("git", args, { cwd, env, encoding: "buffer", maxBuffer: 256 * 1024 * 1024 })).stdout;
  return { git, succeeds, bytes };
}

const gitError = (error: unknown) =>
  ((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split("\n")[0] ?? "";

/** git's configured identity, or Drydock's where none is: `-c` options for the commit. */
async function identity(git: (args: string[]) => Promise<string>): Promise<string[]> {
  const configured = async (key: string) => (await git(["config", key]).catch(() => "")).trim();
  const name = await configured("user.name");
  const email = await configured("user.email");
  return [
    ...(name ? [] : ["-c", "user.name=Drydock"]),
    ...(email ? [] : ["-c", "user.email=drydock@localhost"]),
  ];
}

export interface CommittedEdit {
  branch: string;
  commit: string;
  files: string[];
}

/**
 * `--commit`: a new branch holding one commit, the edit on top of the commit the version was registered
 * from. Built in a temporary index, so the current branch, the index and the working tree stay as they are.
 */
export async function commitEditHome(
  patch: string,
  origin: SourceOrigin,
  subject: EditSubject,
  branch = defaultBranch(subject.executionId, subject.nodeId),
): Promise<CommittedEdit> {
  const repo = origin.git;
  if (!repo)
    throw new CliError(
      `version ${subject.version} of ${subject.workflow} was not registered from a git working tree; use --apply`,
      1,
    );
  checkHost(origin);
  const files = patchedFiles(patch);
  if (files.length === 0) throw new CliError("the edit changes no file", 1);
  // The top level is recorded as a real path; the root as packed, maybe through a symbolic link.
  const root = await realpath(origin.root).catch(() => origin.root);
  const prefix = relative(repo.toplevel, root).split(sep).join("/");
  if (prefix.startsWith("..") || isAbsolute(prefix))
    throw new CliError(`the sources (${origin.root}) are not inside ${repo.toplevel}`, 1);

  const { git, succeeds } = gitIn(repo.toplevel);
  if (!(await succeeds(["rev-parse", "--git-dir"])))
    throw new CliError(`${repo.toplevel} is no longer a git working tree; use --apply`, 1);
  // `--branch` resolves `@{-1}` and the like: only a name that comes back as itself is taken.
  const checked = await git(["check-ref-format", "--branch", branch]).catch(() => "");
  if (branch.startsWith("-") || checked.trim() !== branch)
    throw new CliError(`"${branch}" is not a valid branch name`, 2);
  if (await succeeds(["rev-parse", "--verify", "-q", `refs/heads/${branch}`]))
    throw new CliError(
      `branch ${branch} already exists in ${repo.toplevel}: name another with --branch`,
      1,
    );
  if (!(await succeeds(["cat-file", "-e", `${repo.commit}^{commit}`])))
    throw new CliError(
      `commit ${repo.commit} (what the version was registered from) is not in ${repo.toplevel}; use --apply`,
      1,
    );

  const temp = await mkdtemp(join(tmpdir(), "drydock-commit-"));
  try {
    const index = gitIn(repo.toplevel, join(temp, "index"));
    const inRepo = (path: string) => (prefix ? `${prefix}/${path}` : path);
    for (const file of files) {
      if (file.created) continue;
      const registered = origin.files[file.path];
      const atCommit = await index
        .bytes(["cat-file", "blob", `${repo.commit}:${inRepo(file.path)}`])
        .catch(() => undefined);
      if (atCommit === undefined || (registered !== undefined && sha256(atCommit) !== registered))
        throw new CliError(
          `${file.path} at commit ${repo.commit.slice(0, 12)} is not what was registered (it had uncommitted changes then): use --apply`,
          1,
        );
    }
    await index.git(["read-tree", repo.commit]);
    const patchFile = join(temp, "edit.patch");
    await writeFile(patchFile, patch);
    await index
      .git([
        "apply",
        "--cached",
        "--whitespace=nowarn",
        ...(prefix ? [`--directory=${prefix}`] : []),
        patchFile,
      ])
      .catch((error: unknown) => {
        throw new CliError(
          `the edit does not apply to commit ${repo.commit.slice(0, 12)}: ${gitError(error)}`,
          1,
        );
      });
    const tree = (await index.git(["write-tree"])).trim();
    const commit = (
      await index.git([
        ...(await identity(git)),
        "commit-tree",
        tree,
        "-p",
        repo.commit,
        "-m",
        commitMessage(subject),
      ])
    ).trim();
    // The zero old value: the branch is created only if it still does not exist.
    await git([
      "update-ref",
      "-m",
      `drydock: the edit of ${subject.nodeId} of execution ${subject.executionId}`,
      `refs/heads/${branch}`,
      commit,
      "0".repeat(commit.length),
    ]).catch((error: unknown) => {
      throw new CliError(`could not create branch ${branch}: ${gitError(error)}`, 1);
    });
    return { branch, commit, files: files.map((f) => f.path) };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
