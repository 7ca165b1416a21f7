/**
 * The console's shell: who is signed in (`auth.me`; the sign-in page when UNAUTHORIZED), the projects they
 * may see, the top bar and the routes. Pages live in pages/; each talks to the server through `api` only.
 */
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { Redirect, Route, Switch } from "wouter";

import { errorMessage, isUnauthorized } from "./api.js";
import type { Identity } from "./identity/identity-context.js";
import { IdentityContext } from "./identity/identity-context.js";
import { meQuery, projectListQuery } from "./identity/queries.js";
import { ApiKeysPage } from "./pages/ApiKeys.js";
import { AuditPage } from "./pages/Audit.js";
import { ExecutionPage } from "./pages/Execution.js";
import { ExecutionsPage } from "./pages/Executions.js";
import { MembersPage } from "./pages/Members.js";
import { SignInPage } from "./pages/SignIn.js";
import { WorkflowPage } from "./pages/Workflow.js";
import { WorkflowsPage } from "./pages/Workflows.js";
import { InProject } from "./shell/InProject.js";
import { TopBar } from "./shell/TopBar.js";
import { ErrorState, Loading } from "./ui/states.js";

function Routes() {
  return (
    <Switch>
      <Route path="/">
        <Redirect to="/executions" replace />
      </Route>
      <Route path="/workflows">
        <InProject>{(project) => <WorkflowsPage project={project} />}</InProject>
      </Route>
      <Route path="/workflows/:name">
        {(params) => (
          <InProject>
            {(project) => <WorkflowPage name={decodeURIComponent(params.name)} project={project} />}
          </InProject>
        )}
      </Route>
      <Route path="/executions">
        <InProject>{(project) => <ExecutionsPage project={project} />}</InProject>
      </Route>
      <Route path="/executions/:id">{(params) => <ExecutionPage id={params.id} />}</Route>
      <Route path="/members">
        <InProject>{(project) => <MembersPage project={project} />}</InProject>
      </Route>
      <Route path="/audit">
        <InProject>{(project) => <AuditPage project={project} />}</InProject>
      </Route>
      <Route path="/api-keys" component={ApiKeysPage} />
      <Route>
        <ErrorState title="No such page" message="Pick Workflows or Executions above." />
      </Route>
    </Switch>
  );
}

/** Who I am and my projects, loaded before any page: every page is scoped by them. */
function useIdentityQueries() {
  const me = useQuery(meQuery);
  const projects = useQuery({ ...projectListQuery, enabled: me.isSuccess });
  const identity = useMemo<Identity | undefined>(
    () => (me.data && projects.data ? { me: me.data, projects: projects.data } : undefined),
    [me.data, projects.data],
  );
  return { me, projects, identity };
}

export function App() {
  const { me, projects, identity } = useIdentityQueries();
  const failed = me.error ?? projects.error;
  if (isUnauthorized(failed)) return <SignInPage />;
  // A failure once loaded (the server restarting) leaves the pages up; their own queries say what failed.
  if (failed && !identity) {
    return (
      <ErrorState
        title="The console cannot reach the Drydock server"
        message={errorMessage(failed)}
        retry={() => void (me.isError ? me.refetch() : projects.refetch())}
      />
    );
  }
  if (!identity) return <Loading what="Drydock" />;
  return (
    <IdentityContext.Provider value={identity}>
      <div className="shell">
        <TopBar />
        <main>
          <Routes />
        </main>
      </div>
    </IdentityContext.Provider>
  );
}
