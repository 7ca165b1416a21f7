import { ExecutionView } from "../execution/ExecutionView.js";

/** `/executions/:id`: the execution's header, DAG and task pane, live. */
export function ExecutionPage({ id }: { id: string }) {
  return <ExecutionView key={id} id={id} />;
}
