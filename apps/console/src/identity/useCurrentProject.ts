/** The project the list pages show, and switching it (the URL's `?project=`, remembered in this browser). */
import { useCallback, useEffect } from "react";
import { useLocation, useSearchParams } from "wouter";

import { useIdentity } from "./identity-context.js";
import {
  chooseProject,
  rememberedProject,
  rememberProject,
  switchTarget,
} from "./project-choice.js";

/** The current project (undefined: I may see none) and a way to switch to another. */
export function useCurrentProject(): {
  project: string | undefined;
  switchTo: (project: string) => void;
} {
  const identity = useIdentity();
  const [search] = useSearchParams();
  const [location, navigate] = useLocation();
  const project = chooseProject({
    fromUrl: search.get("project"),
    remembered: rememberedProject(),
    visible: (identity?.projects ?? []).map((p) => p.id),
  });
  useEffect(() => {
    if (project) rememberProject(project);
  }, [project]);
  const switchTo = useCallback(
    (next: string) => {
      rememberProject(next);
      navigate(switchTarget(location, next));
    },
    [location, navigate],
  );
  return { project, switchTo };
}

/** Keeps `?project=` naming the project shown, so the address can be shared (replaces, adds no history). */
export function useProjectInUrl(project: string): void {
  const [search, setSearch] = useSearchParams();
  const inUrl = search.get("project");
  useEffect(() => {
    if (inUrl === project) return;
    setSearch(
      (prev) => {
        const next = new URLSearchParams(prev);
        next.set("project", project);
        return next;
      },
      { replace: true },
    );
  }, [inUrl, project, setSearch]);
}
