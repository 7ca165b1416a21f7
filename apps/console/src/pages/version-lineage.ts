/** How the version page words where a version's sources came from: the git commit, the machine, the fork. */
import { withProject } from "../identity/project-choice.js";
import type { GitOrigin } from "../ui/types.js";

/** The first 7 characters, as git abbreviates a commit. */
export function shortCommit(commit: string): string {
  return commit.slice(0, 7);
}

/** "on main", or "detached HEAD" when there was no branch. */
export function branchText(git: Pick<GitOrigin, "branch">): string {
  return git.branch ? `on ${git.branch}` : "(detached HEAD)";
}

/** "(uncommitted changes in 2 files)" for a dirty working tree; undefined for a clean one. */
export function dirtyText(git: Pick<GitOrigin, "dirty" | "dirtyFiles">): string | undefined {
  if (!git.dirty) return undefined;
  const n = git.dirtyFiles.length;
  // A tree can be dirty without naming its files (an older CLI): the count is then unknown.
  if (n === 0) return "(uncommitted changes)";
  return `(uncommitted changes in ${n} ${n === 1 ? "file" : "files"})`;
}

/** The page of a workflow at one version, in its project. */
export function workflowVersionHref(name: string, version: string, project: string): string {
  return withProject(
    `/workflows/${encodeURIComponent(name)}?version=${encodeURIComponent(version)}`,
    project,
  );
}
