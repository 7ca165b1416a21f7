/**
 * The console's shell: who is signed in, the navigation, and the routes. Pages live in pages/; each talks to
 * the server through `api` only.
 */
import { useQuery } from "@tanstack/react-query";
import { Link, Redirect, Route, Switch } from "wouter";

import { api, errorMessage, isUnauthorized } from "./api.js";
import { ExecutionPage } from "./pages/Execution.js";
import { ExecutionsPage } from "./pages/Executions.js";
import { SignInPage } from "./pages/SignIn.js";
import { WorkflowPage } from "./pages/Workflow.js";
import { WorkflowsPage } from "./pages/Workflows.js";
import { ErrorState, Loading } from "./ui/states.js";

export function App() {
  // Any user query tells whether the session cookie is good; the project list is the cheapest.
  const me = useQuery({ queryKey: ["projects"], queryFn: () => api.projects.list.query() });
  if (me.isPending) return <Loading what="Drydock" />;
  if (me.isError) {
    if (isUnauthorized(me.error)) return <SignInPage />;
    return (
      <ErrorState
        title="The console cannot reach the Drydock server"
        message={errorMessage(me.error)}
        retry={() => void me.refetch()}
      />
    );
  }
  return (
    <div className="shell">
      <header className="topbar">
        <Link href="/executions" className="brand">
          Drydock
        </Link>
        <nav aria-label="Main">
          <Link href="/workflows" className={(active) => (active ? "active" : "")}>
            Workflows
          </Link>
          <Link href="/executions" className={(active) => (active ? "active" : "")}>
            Executions
          </Link>
        </nav>
        <form method="post" action="/logout" className="signout">
          <button type="submit" className="link">
            Sign out
          </button>
        </form>
      </header>
      <main>
        <Switch>
          <Route path="/">
            <Redirect to="/executions" replace />
          </Route>
          <Route path="/workflows" component={WorkflowsPage} />
          <Route path="/workflows/:name">
            {(params) => <WorkflowPage name={decodeURIComponent(params.name)} />}
          </Route>
          <Route path="/executions" component={ExecutionsPage} />
          <Route path="/executions/:id">{(params) => <ExecutionPage id={params.id} />}</Route>
          <Route>
            <ErrorState title="No such page" message="Pick Workflows or Executions above." />
          </Route>
        </Switch>
      </main>
    </div>
  );
}
