/** A map node's elements in the task pane, each a button that selects it; a fan-out of thousands lists the rest on request. */
import { useMemo, useState } from "react";

import { StatusBadge } from "../ui/status.js";
import type { ExecutionDetail } from "../ui/types.js";
import type { FanoutSummary } from "./fanout.js";
import { describeFanout, elementsOf } from "./fanout.js";

/** The elements shown at first. */
const ELEMENTS_SHOWN = 200;

interface ElementListProps {
  detail: ExecutionDetail;
  mapNodeId: string;
  summary: FanoutSummary | undefined;
  onSelect: (id: string) => void;
}

export function ElementList({ detail, mapNodeId, summary, onSelect }: ElementListProps) {
  const elements = useMemo(() => elementsOf(detail, mapNodeId), [detail, mapNodeId]);
  const [all, setAll] = useState(false);
  const shown = all ? elements : elements.slice(0, ELEMENTS_SHOWN);
  return (
    <section className="pane-section" aria-label="Elements">
      <h3>Elements</h3>
      <p data-testid="fanout-summary">{describeFanout(summary)}</p>
      {elements.length > 0 && (
        <ul className="element-list">
          {shown.map((e) => (
            <li key={e.nodeId}>
              <button
                type="button"
                className="element"
                data-testid={`element-${e.nodeId}`}
                data-status={e.status}
                onClick={() => onSelect(e.nodeId)}
              >
                <code>{e.nodeId}</code> <StatusBadge status={e.status} />
              </button>
            </li>
          ))}
        </ul>
      )}
      {!all && elements.length > ELEMENTS_SHOWN && (
        <button type="button" onClick={() => setAll(true)}>
          Show all {elements.length} elements
        </button>
      )}
    </section>
  );
}
