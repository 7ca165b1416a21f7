/**
 * The DAG component, loaded on its own (React Flow and dagre are not part of the console's first download).
 * Not React.lazy: React holds back a resolved Suspense boundary for up to 300 ms to batch reveals, which would
 * be most of the 1 s the page has to draw 1,000 nodes.
 */
import type { ComponentType } from "react";
import { useEffect, useState } from "react";

import type { DagProps } from "./Dag.js";

let loadedDag: ComponentType<DagProps> | undefined;
const loadDag = () =>
  import("./Dag.js").then((m) => {
    loadedDag = m.default;
    return m.default;
  });

export function useDagComponent(): { Dag: ComponentType<DagProps> | undefined; error: unknown } {
  const [state, setState] = useState<{ Dag: ComponentType<DagProps> | undefined; error: unknown }>({
    Dag: loadedDag,
    error: undefined,
  });
  useEffect(() => {
    if (state.Dag) return;
    let live = true;
    loadDag().then(
      (Dag) => live && setState({ Dag, error: undefined }),
      (error: unknown) => live && setState({ Dag: undefined, error }),
    );
    return () => {
      live = false;
    };
  }, [state.Dag]);
  return state;
}
