/**
 * Forks a bundle: its files plus a unified diff (the IDE's edits, paths `a/<path>`/`b/<path>` relative to the
 * bundle root), re-packed with the same writer as `packBundle`, and which tasks' code the edit changed.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";

import type { BundleManifest, TaskSpec } from "@drydock/contracts";
import { BUNDLE_MANIFEST_FILE, BundleManifestSchema } from "@drydock/contracts";
import { applyPatch, parsePatch } from "diff";
import type { StructuredPatch } from "diff";

import { compileEntry, manifestText } from "./pack.js";
import { findTaskCode } from "./task-code.js";
import type { BundleContent } from "./tarball.js";
import { comparePaths, readBundleTarball, sha256Hex, writeBundleTarball } from "./tarball.js";

export interface ForkedBundle {
  tarball: Buffer;
  sha256: string;
  size: number;
  manifest: BundleManifest;
  /** The tasks as given, with their code's hash and lines as they are in the forked bundle. */
  tasks: TaskSpec[];
  /** Names of the tasks whose code the edit changed (or may have: shared code changes them all), sorted. */
  changedTasks: string[];
}

const DEV_NULL = "/dev/null";

/** What one file's diff did: the changes in old-file lines, for telling which tasks it touched. */
interface FileEdit {
  oldPath: string | undefined;
  newPath: string | undefined;
  changes: LineChange[];
}

/** Old lines `removed` (1-based) went; `added` lines came in before old line `at`. */
interface LineChange {
  at: number;
  removed: number[];
  added: number;
}

/**
 * Applies `patch` to the bundle and re-packs it. Throws, returning nothing, when a file's diff does not apply
 * or names a path outside the bundle's sources.
 * @example const fork = await forkBundle(tarball, patch, version.tasks); // fork.changedTasks: ["train"]
 */
export async function forkBundle(
  tarball: Buffer,
  patch: string,
  tasks: TaskSpec[],
): Promise<ForkedBundle> {
  const files = await readBundleTarball(tarball);
  const manifestBytes = files.get(BUNDLE_MANIFEST_FILE);
  if (!manifestBytes) throw new Error(`cannot fork: the bundle has no ${BUNDLE_MANIFEST_FILE}`);
  const manifest = BundleManifestSchema.parse(JSON.parse(manifestBytes.toString("utf8")));
  const sources = new Set(manifest.sources);

  const edits: FileEdit[] = [];
  for (const filePatch of parseDiff(patch)) {
    const oldPath = patchPath(filePatch.oldFileName, "a/");
    const newPath = patchPath(filePatch.newFileName, "b/");
    const named = newPath ?? oldPath;
    if (!named)
      throw new Error("cannot fork: a file's diff names no file (/dev/null on both sides)");
    if (oldPath === undefined && files.has(named))
      throw new Error(`cannot fork: ${named} is created by the edit but already exists`);
    const before = oldPath === undefined ? "" : files.get(oldPath)?.toString("utf8");
    if (before === undefined)
      throw new Error(
        `cannot fork: ${oldPath ?? named} is changed by the edit but not in the bundle`,
      );
    const after = applyPatch(before, filePatch);
    if (after === false)
      throw new Error(
        `cannot fork: the edit to ${oldPath ?? named} does not apply to the registered file (its context differs)`,
      );
    if (newPath === undefined && after !== "")
      throw new Error(`cannot fork: the edit deletes ${named} but leaves text in it`);

    if (oldPath !== undefined && oldPath !== newPath) {
      if (oldPath === manifest.entry)
        throw new Error(`cannot fork: the edit removes ${oldPath}, the bundle's entry`);
      files.delete(oldPath);
      sources.delete(oldPath);
    }
    if (newPath !== undefined) {
      files.set(newPath, Buffer.from(after, "utf8"));
      if (oldPath === undefined || sources.has(oldPath)) sources.add(newPath);
    }
    edits.push({ oldPath, newPath, changes: lineChanges(filePatch) });
  }

  let forkedManifest = manifest;
  const sourceList = [...sources].sort(comparePaths);
  if (sourceList.join("\n") !== manifest.sources.join("\n"))
    forkedManifest = { ...manifest, sources: sourceList };
  // The compiled entry is the registered sources': compiled again from the edited ones, or dropped.
  if (edits.length > 0 && manifest.compiled !== undefined) {
    files.delete(manifest.compiled);
    const compiled = await compileFork(files, manifest.entry);
    if (compiled?.path === manifest.compiled) files.set(compiled.path, Buffer.from(compiled.text));
    else {
      const { compiled: _stale, ...rest } = forkedManifest;
      forkedManifest = rest;
    }
  }
  if (forkedManifest !== manifest)
    files.set(BUNDLE_MANIFEST_FILE, Buffer.from(manifestText(forkedManifest), "utf8"));

  const contents = new Map<string, BundleContent>();
  for (const [path, data] of files) contents.set(path, { data });
  const forked = await writeBundleTarball(contents);
  const { tasks: forkedTasks, changedTasks } = forkTasks(tasks, edits, files, patch);
  return {
    tarball: forked,
    sha256: sha256Hex(forked),
    size: forked.length,
    manifest: forkedManifest,
    tasks: forkedTasks,
    changedTasks,
  };
}

/**
 * The edited sources compiled as `packBundle` compiles them (`compileEntry`), from a scratch copy of the bundle's
 * files outside node_modules (packages are left as imports, so none is needed). Undefined when it cannot be.
 */
async function compileFork(
  files: Map<string, Buffer>,
  entry: string,
): Promise<{ path: string; text: string } | undefined> {
  let packageJson: Record<string, unknown>;
  try {
    packageJson = JSON.parse(files.get("package.json")?.toString("utf8") ?? "{}") as Record<
      string,
      unknown
    >;
  } catch {
    return undefined;
  }
  const scratch = await realpath(await mkdtemp(join(tmpdir(), "drydock-fork-")));
  try {
    for (const [path, data] of files) {
      if (path === BUNDLE_MANIFEST_FILE || path.startsWith("node_modules/")) continue;
      if (posix.isAbsolute(path) || path.split("/").includes("..")) continue;
      await mkdir(dirname(join(scratch, path)), { recursive: true });
      await writeFile(join(scratch, path), data);
    }
    return await compileEntry(join(scratch, entry), scratch, packageJson, new Set(files.keys()));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function parseDiff(patch: string): StructuredPatch[] {
  let parsed: StructuredPatch[];
  try {
    parsed = parsePatch(patch);
  } catch (error) {
    throw new Error(
      `cannot fork: the edit is not a unified diff (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
  // An empty diff parses as one index with no file and no hunk; so does text that is no diff at all.
  const files = parsed.filter((p) => p.oldFileName !== undefined || p.newFileName !== undefined);
  if (files.length === 0 && patch.trim() !== "")
    throw new Error("cannot fork: the edit is not a unified diff (it names no file)");
  return files;
}

/** The bundle path a diff header names (`a/wf.ts` → `wf.ts`), undefined for /dev/null; refuses paths outside the sources. */
function patchPath(header: string | undefined, prefix: string): string | undefined {
  if (header === undefined || header === DEV_NULL) return undefined;
  const raw = header.startsWith(prefix) ? header.slice(prefix.length) : header;
  const path = posix.normalize(raw);
  if (raw === "" || posix.isAbsolute(raw) || path === ".." || path.startsWith("../"))
    throw new Error(`cannot fork: ${raw || header} is outside the bundle`);
  if (path.split("/").includes("node_modules"))
    throw new Error(`cannot fork: ${path} is inside node_modules, which an edit may not change`);
  if (path === BUNDLE_MANIFEST_FILE)
    throw new Error(`cannot fork: ${path} is the bundle's manifest, which an edit may not change`);
  return path;
}

/** The changed lines of one file's diff, in old-file line numbers (context lines are not changes). */
function lineChanges(filePatch: StructuredPatch): LineChange[] {
  const changes: LineChange[] = [];
  for (const hunk of filePatch.hunks) {
    let oldLine = hunk.oldStart;
    let current: LineChange | undefined;
    for (const text of hunk.lines) {
      const kind = text[0];
      if (kind === "-") {
        current ??= { at: oldLine, removed: [], added: 0 };
        current.removed.push(oldLine);
        oldLine += 1;
      } else if (kind === "+") {
        current ??= { at: oldLine, removed: [], added: 0 };
        current.added += 1;
      } else if (kind === " ") {
        if (current) changes.push(current);
        current = undefined;
        oldLine += 1;
      }
    }
    if (current) changes.push(current);
  }
  return changes;
}

/** Whether a change lies within old lines [first, last]. An insertion counts when it lands between two of them. */
function touches(change: LineChange, [first, last]: [number, number]): boolean {
  if (change.removed.some((line) => line >= first && line <= last)) return true;
  // A pure insertion goes before old line `at`; a replacement's insertion goes where its removed lines were.
  return change.removed.length === 0 && change.added > 0 && change.at > first && change.at <= last;
}

/** Whether every line a change removes, or the place it inserts at, lies inside some task's lines. */
function withinTasks(change: LineChange, ranges: [number, number][]): boolean {
  if (change.removed.length === 0)
    return ranges.some(([first, last]) => change.at > first && change.at <= last);
  return change.removed.every((line) =>
    ranges.some(([first, last]) => line >= first && line <= last),
  );
}

/** Where old line `line` is after the changes (for a removed line: where it was). */
function shiftLine(line: number, changes: LineChange[]): number {
  let shifted = line;
  for (const change of changes) {
    shifted -= change.removed.filter((removed) => removed < line).length;
    const lastRemoved = change.removed.at(-1);
    if (change.at <= line && (lastRemoved === undefined || lastRemoved < line))
      shifted += change.added;
  }
  return shifted;
}

function forkTasks(
  tasks: TaskSpec[],
  edits: FileEdit[],
  files: Map<string, Buffer>,
  patch: string,
): { tasks: TaskSpec[]; changedTasks: string[] } {
  const changed = new Set<string>();
  const bySource = new Map<string, FileEdit>();
  let everyTask = false;
  for (const edit of edits) {
    // A new, deleted or renamed file is code the tasks may share.
    if (edit.oldPath === undefined || edit.oldPath !== edit.newPath) {
      everyTask = true;
      continue;
    }
    if (edit.changes.length === 0) continue;
    bySource.set(edit.oldPath, edit);
    const inFile = tasks.filter((t) => t.sourceFile === edit.oldPath);
    if (inFile.length === 0) everyTask = true;
    const ranges = inFile.flatMap((t) => (t.code?.lines ? [t.code.lines] : []));
    for (const change of edit.changes) {
      for (const task of inFile)
        if (task.code?.lines && touches(change, task.code.lines)) changed.add(task.name);
      if (!withinTasks(change, ranges)) everyTask = true;
    }
    for (const task of inFile) if (!task.code?.lines) changed.add(task.name);
  }
  const anyEdit = edits.length > 0;
  // Without a sourceFile, nothing says where a task's code is: any edit may have changed it.
  for (const task of tasks) if (everyTask || (anyEdit && !task.sourceFile)) changed.add(task.name);

  const forked = tasks.map((task): TaskSpec => {
    const edit = task.sourceFile ? bySource.get(task.sourceFile) : undefined;
    const lines = task.code?.lines;
    const shifted: [number, number] | undefined =
      lines && edit
        ? [shiftLine(lines[0], edit.changes), shiftLine(lines[1], edit.changes)]
        : lines;
    if (!changed.has(task.name))
      return task.code && shifted ? { ...task, code: { ...task.code, lines: shifted } } : task;
    const text = task.sourceFile ? files.get(task.sourceFile)?.toString("utf8") : undefined;
    const code =
      text !== undefined && task.sourceFile
        ? findTaskCode(text, task.sourceFile, { name: task.name, line: shifted?.[0] })
        : undefined;
    return {
      ...task,
      code: code ?? { sha256: sha256Hex(`${task.code?.sha256 ?? ""}\n${patch}`) },
    };
  });
  return { tasks: forked, changedTasks: [...changed].sort(comparePaths) };
}
