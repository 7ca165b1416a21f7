/** The project's registered workflows, each linking to its page with the launch form. */
import { queryOptions, useQuery } from "@tanstack/react-query";
import { Link } from "wouter";

import { api, errorMessage } from "../api.js";
import { withProject } from "../identity/project-choice.js";
import { EmptyState, ErrorState, Loading } from "../ui/states.js";
import { retryUnlessRefused } from "./retry.js";
import { TimeAgo } from "./TimeAgo.js";
import { useNowEvery } from "./use-now-every.js";
import "./pages.css";

/** The project's workflow list as react-query fetches it; the workflow page and the executions filter share it. */
export const workflowListQuery = (project: string) =>
  queryOptions({
    queryKey: ["workflows", "list", project] as const,
    queryFn: () => api.workflows.list.query({ project }),
    retry: retryUnlessRefused,
  });

export function WorkflowsPage({ project }: { project: string }) {
  const workflows = useQuery(workflowListQuery(project));
  const now = useNowEvery(30_000);

  if (workflows.isPending) return <Loading what="workflows" />;
  if (workflows.isError) {
    return (
      <ErrorState
        title="The workflows could not be loaded"
        message={errorMessage(workflows.error)}
        retry={() => void workflows.refetch()}
      />
    );
  }
  const list = [...workflows.data].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section className="page">
      <h1>Workflows</h1>
      {list.length === 0 ? (
        <EmptyState title="No workflows registered yet">
          <p>
            Register one with <code>pnpm drydock register examples/hello/workflow.ts</code>, or
            start with <code>pnpm start</code>.
          </p>
        </EmptyState>
      ) : (
        <div className="table-scroll">
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Latest version</th>
                <th scope="col" className="wide">
                  Versions
                </th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.map((w) => (
                <tr key={w.name}>
                  <td>
                    <Link href={withProject(`/workflows/${encodeURIComponent(w.name)}`, project)}>
                      {w.name}
                    </Link>
                  </td>
                  <td>
                    <code>{w.latestVersion}</code>
                  </td>
                  <td className="wide">{w.versions}</td>
                  <td>
                    <TimeAgo iso={w.updatedAt} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
