/** The top bar's project picker: the projects I may see, the current one selected; picking one opens it. */
import { useId } from "react";

import type { ProjectWithRole } from "../ui/types.js";

export function ProjectSwitcher({
  projects,
  current,
  onSwitch,
}: {
  projects: readonly ProjectWithRole[];
  current: string | undefined;
  onSwitch: (project: string) => void;
}) {
  const id = useId();
  if (projects.length === 0) return <span className="muted">No projects</span>;
  return (
    <div className="project-switcher">
      <label htmlFor={id}>Project</label>
      <select id={id} value={current ?? ""} onChange={(e) => onSwitch(e.target.value)}>
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name === p.id ? p.id : `${p.name} (${p.id})`}
          </option>
        ))}
      </select>
    </div>
  );
}
