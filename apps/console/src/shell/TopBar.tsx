/**
 * The top bar: the project switcher, the pages of the current project (Members and Audit for its admins),
 * API keys, and who is signed in with Sign out (a form post, so the server ends the session and redirects).
 */
import { Link, useLocation } from "wouter";

import { useIdentity } from "../identity/identity-context.js";
import { withProject } from "../identity/project-choice.js";
import { roleGate } from "../identity/roles.js";
import { useCurrentProject } from "../identity/useCurrentProject.js";
import { ProjectSwitcher } from "./ProjectSwitcher.js";

/** A page of the bar, marked current on it and below it (a link with `?project=` is never "active" to wouter). */
function NavLink({ path, project, label }: { path: string; project?: string; label: string }) {
  const [location] = useLocation();
  const active = location === path || location.startsWith(`${path}/`);
  return (
    <Link
      href={withProject(path, project)}
      className={active ? "active" : undefined}
      aria-current={active ? "page" : undefined}
    >
      {label}
    </Link>
  );
}

function SignedInAs({ name }: { name: string }) {
  return (
    <div className="signed-in">
      <span className="signed-in-name" title="Signed in as">
        {name}
      </span>
      <form method="post" action="/auth/sign-out" className="signout">
        <button type="submit" className="link">
          Sign out
        </button>
      </form>
    </div>
  );
}

export function TopBar() {
  const identity = useIdentity();
  const { project, switchTo } = useCurrentProject();
  const isAdmin = project !== undefined && roleGate(identity?.me, project, "admin").allowed;
  return (
    <header className="topbar">
      <Link href={withProject("/executions", project)} className="brand">
        Drydock
      </Link>
      <ProjectSwitcher projects={identity?.projects ?? []} current={project} onSwitch={switchTo} />
      <nav aria-label="Main">
        <NavLink path="/workflows" project={project} label="Workflows" />
        <NavLink path="/executions" project={project} label="Executions" />
        {isAdmin && <NavLink path="/members" project={project} label="Members" />}
        {isAdmin && <NavLink path="/audit" project={project} label="Audit" />}
        <NavLink path="/api-keys" project={project} label="API keys" />
      </nav>
      {identity && <SignedInAs name={identity.me.user.name} />}
    </header>
  );
}
