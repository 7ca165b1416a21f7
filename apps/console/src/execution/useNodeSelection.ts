/**
 * The node selected on the execution page. It lives in the URL (`?node=n3`), so the pane survives a reload and
 * can be linked; selecting brings the pane into view, closing gives the focus back to the node's DAG node.
 */
import { useCallback, useEffect, useRef } from "react";
import { useSearchParams } from "wouter";

import { dagNodeIdOf } from "./state.js";

export function useNodeSelection() {
  const [search, setSearch] = useSearchParams();
  const selected = search.get("node") ?? undefined;
  // For callbacks that must not change with the selection (the watch's listener, the pane's Escape key).
  const selectedRef = useRef(selected);
  useEffect(() => {
    selectedRef.current = selected;
  }, [selected]);

  const select = useCallback(
    (nodeId: string) => {
      setSearch({ node: nodeId }, { replace: true });
      // On a narrow window the pane sits below the DAG: bring it into view.
      if (window.matchMedia("(max-width: 1023px)").matches) {
        requestAnimationFrame(() =>
          document
            .querySelector('[data-testid="task-pane"]')
            ?.scrollIntoView({ block: "start", behavior: "smooth" }),
        );
      }
    },
    [setSearch],
  );
  const close = useCallback(() => {
    const was = selectedRef.current;
    setSearch({}, { replace: true });
    // Back to the node the pane was about, for keyboard users.
    const dagId = was ? dagNodeIdOf(was) : undefined;
    if (dagId)
      document.querySelector<HTMLElement>(`[data-testid="dag-node-${CSS.escape(dagId)}"]`)?.focus();
  }, [setSearch]);

  return { selected, selectedRef, select, close };
}
