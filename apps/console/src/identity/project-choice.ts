/**
 * Which project the list pages show: the one in the URL (`?project=`, so a link opens the same view), else
 * the one remembered from last time, else `default`, else the first I may see. Only projects I may see are
 * chosen, so a stale URL or a project I was removed from falls back instead of failing on every page.
 */

import { DEFAULT_PROJECT } from "@drydock/contracts/constants";

export interface ProjectChoiceInput {
  fromUrl: string | null | undefined;
  remembered: string | null | undefined;
  /** The ids of the projects I may see, in the server's order. */
  visible: readonly string[];
}

/** The project to show; undefined when I may see none. */
export function chooseProject({ fromUrl, remembered, visible }: ProjectChoiceInput) {
  for (const candidate of [fromUrl, remembered, DEFAULT_PROJECT]) {
    if (candidate && visible.includes(candidate)) return candidate;
  }
  return visible[0];
}

/** `/executions` + `ops` → `/executions?project=ops`; other search parameters are kept. */
export function withProject(path: string, project: string | undefined): string {
  if (!project) return path;
  const [pathname = "", search = ""] = path.split("?", 2);
  const params = new URLSearchParams(search);
  params.set("project", project);
  return `${pathname}?${params.toString()}`;
}

/** The pages of one project's things, by path; a switch from any other page opens the executions list. */
const PROJECT_PAGES = ["/workflows", "/executions", "/members", "/audit", "/api-keys"];

/**
 * The page a switch to another project opens: the same list, unfiltered (`/workflows/wf` → `/workflows`,
 * since the other project may have no `wf`); an execution's page → the other project's executions.
 */
export function switchTarget(location: string, project: string): string {
  const page = PROJECT_PAGES.find((p) => location === p || location.startsWith(`${p}/`));
  return withProject(page ?? "/executions", project);
}

const STORAGE_KEY = "drydock.project";

/** The project chosen last time in this browser; nothing when storage is unavailable (private windows). */
export function rememberedProject(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** Remembers the project for the next visit; a browser that refuses storage just forgets it. */
export function rememberProject(project: string): void {
  try {
    localStorage.setItem(STORAGE_KEY, project);
  } catch {
    // Without storage the next visit starts from the default project, which is all this costs.
  }
}
