/** A project page's route: renders the page for the current project, kept in `?project=`; or says there is none. */
import { Fragment } from "react";
import type { ReactNode } from "react";

import { useCurrentProject, useProjectInUrl } from "../identity/useCurrentProject.js";
import { EmptyState } from "../ui/states.js";

function ProjectInUrl({ project, children }: { project: string; children: ReactNode }) {
  useProjectInUrl(project);
  return children;
}

export function InProject({ children }: { children: (project: string) => ReactNode }) {
  const { project } = useCurrentProject();
  if (!project) {
    return (
      <EmptyState title="You are not in any project yet">
        <p>Ask an admin of a project to add you as a member; it then appears here.</p>
      </EmptyState>
    );
  }
  return (
    <ProjectInUrl project={project}>
      {/* Keyed by project, so a page's own state (forms, pages of results) starts afresh in another one. */}
      <Fragment key={project}>{children(project)}</Fragment>
    </ProjectInUrl>
  );
}
