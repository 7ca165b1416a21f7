/**
 * The execution's DAG, drawn with React Flow. Loaded on its own (React Flow and dagre are not part of the
 * console's first download). Nodes are buttons: click, Enter or Space selects one.
 *
 * Built for 1,000 nodes: a block of siblings (999 parallel tasks) is one React Flow node that draws its
 * members as plain buttons; positions, sizes and handles come from the layout, so React Flow measures nothing
 * before drawing; views keep their identity while their status does not change, so only moved nodes
 * re-render; far out, nodes drop their text; and past a few hundred React Flow nodes only those in view render.
 */
import "@xyflow/react/dist/style.css";
import "./dag.css";

import type { Edge, Node, NodeHandle, NodeProps } from "@xyflow/react";
import {
  Background,
  Controls,
  getViewportForBounds,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  useStore,
  useStoreApi,
} from "@xyflow/react";
import type { ReactNode, RefObject } from "react";
import {
  createContext,
  memo,
  useContext,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "react";

import type { NodeExecution, NodeReuse, NodeStatus } from "../ui/types.js";
import { durationBetween, statusLabel, statusTone } from "../ui/status.js";
import { useSharedClock } from "./shared-clock.js";
import type { FanoutSummary } from "./fanout.js";
import { describeFanout } from "./fanout.js";
import type { DagGraph } from "./graph.js";
import type { DagGroup, DagLayout, Point } from "./layout.js";
import { reuseBadge, reuseLabel } from "./lineage.js";
import {
  GRID_GAP_X,
  GRID_GAP_Y,
  GROUP_HEADER,
  GROUP_PADDING,
  NODE_HEIGHT,
  NODE_WIDTH,
} from "./layout.js";
import { dagNodeIdOf } from "./state.js";

export interface DagProps {
  graph: DagGraph;
  layout: DagLayout;
  /** Top-level nodes of the execution by id, as they are now. */
  nodes: ReadonlyMap<string, NodeExecution>;
  fanouts: ReadonlyMap<string, FanoutSummary>;
  /** The selected node; an element selects its map node here. */
  selected: string | undefined;
  onSelect: (nodeId: string) => void;
}

/** What one DAG node shows. */
export interface NodeView {
  nodeId: string;
  task: string;
  status: NodeStatus;
  interactive: boolean;
  startedAt?: string;
  endedAt?: string;
  summary?: string;
  /** It ran nothing: its outputs came from the parent execution or the cache. */
  reused?: NodeReuse;
  selected: boolean;
}
interface TaskNodeData extends Record<string, unknown> {
  view: NodeView;
}
interface FrameData extends Record<string, unknown> {
  label: string;
  columns: number;
  members: NodeView[];
}
type TaskFlowNode = Node<TaskNodeData, "task">;
type FrameFlowNode = Node<FrameData, "frame">;
type FlowNode = TaskFlowNode | FrameFlowNode;

const MIN_ZOOM = 0.04;
const MAX_ZOOM = 1.5;
/** Below this zoom node text is unreadable anyway; nodes become coloured tiles. */
const FAR_ZOOM = 0.45;
/** Above this many React Flow nodes, only those in view are rendered. */
const CULL_ABOVE = 200;

const DagActions = createContext<{ select: (id: string) => void; reveal: (id: string) => void }>({
  select: () => undefined,
  reveal: () => undefined,
});
const FarAway = createContext(false);

function sideHandles(width: number, height: number): NodeHandle[] {
  return [
    { id: null, type: "target", position: Position.Left, x: 0, y: height / 2, width: 1, height: 1 },
    {
      id: null,
      type: "source",
      position: Position.Right,
      x: width - 1,
      y: height / 2,
      width: 1,
      height: 1,
    },
  ];
}

/** A DAG node: a button showing the task, its id, status and duration; far out, a coloured tile. */
export const NodeBody = memo(function NodeBody({ view }: { view: NodeView }) {
  const { select, reveal } = useContext(DagActions);
  const far = useContext(FarAway);
  const now = useSharedClock(view.status === "RUNNING" && !far);
  const tone = statusTone(view.status);
  const duration = view.startedAt ? durationBetween(view.startedAt, view.endedAt, now) : undefined;
  const reused = view.reused;
  return (
    <button
      type="button"
      className={`dag-node dag-tone-${tone}${reused ? " dag-reused" : ""}${view.selected ? " selected" : ""}`}
      data-testid={`dag-node-${view.nodeId}`}
      data-status={view.status}
      data-reused={reused?.from}
      title={reused ? reuseLabel(reused) : undefined}
      aria-pressed={view.selected}
      aria-label={
        far
          ? `${view.task} ${view.nodeId}: ${statusLabel(view.status)}${reused ? ` (${reuseBadge(reused)})` : ""}`
          : undefined
      }
      onClick={() => select(view.nodeId)}
      onFocus={(event) => {
        if (event.currentTarget.matches(":focus-visible")) reveal(view.nodeId);
      }}
    >
      {!far && (
        <>
          <span className="dag-node-head">
            <span className="dag-node-task">{view.task}</span>
            {view.interactive && (
              <span
                className="dag-node-vscode"
                title="Interactive task: opens VS Code when it runs"
              >
                VS Code
              </span>
            )}
          </span>
          <span className="dag-node-meta">
            <code>{view.nodeId}</code>
            <span className={`dag-node-status tone-${tone}`}>{statusLabel(view.status)}</span>
            {reused && <span className="dag-node-reused">{reuseBadge(reused)}</span>}
            {duration && <span className="dag-node-duration">{duration}</span>}
          </span>
          {view.summary && (
            <span className="dag-node-summary" title={view.summary}>
              {view.summary}
            </span>
          )}
        </>
      )}
    </button>
  );
});

/** A React Flow node's body between its two fixed handles: edges come in on the left and leave on the right. */
function BetweenHandles({ children }: { children: ReactNode }) {
  return (
    <>
      <Handle type="target" position={Position.Left} isConnectable={false} className="dag-handle" />
      {children}
      <Handle
        type="source"
        position={Position.Right}
        isConnectable={false}
        className="dag-handle"
      />
    </>
  );
}

const TaskNodeView = memo(function TaskNodeView({ data }: NodeProps<TaskFlowNode>) {
  return (
    <BetweenHandles>
      <NodeBody view={data.view} />
    </BetweenHandles>
  );
});

/**
 * A block of siblings: one React Flow node that draws its members itself, in a grid matching the layout's
 * positions. A thousand members cost a thousand buttons, not a thousand React Flow nodes.
 */
const FrameView = memo(function FrameView({ data }: NodeProps<FrameFlowNode>) {
  return (
    <BetweenHandles>
      <div
        className="dag-frame"
        role="group"
        aria-label={data.label}
        style={{
          padding: `${GROUP_HEADER}px ${GROUP_PADDING}px ${GROUP_PADDING}px`,
          gridTemplateColumns: `repeat(${data.columns}, ${NODE_WIDTH}px)`,
          gridAutoRows: `${NODE_HEIGHT}px`,
          gap: `${GRID_GAP_Y}px ${GRID_GAP_X}px`,
        }}
      >
        <span className="dag-frame-label">{data.label}</span>
        {data.members.map((view) => (
          <NodeBody key={view.nodeId} view={view} />
        ))}
      </div>
    </BetweenHandles>
  );
});

const NODE_TYPES = { task: TaskNodeView, frame: FrameView };
const EDGE_MARKER = { type: MarkerType.ArrowClosed, width: 14, height: 14 };

function selectedDagNode(selected: string | undefined): string | undefined {
  return selected === undefined ? undefined : dagNodeIdOf(selected);
}

export interface CacheEntry {
  key: string;
  view: NodeView;
}

/**
 * What each DAG node shows, keyed by what it depends on. A view whose key is unchanged is the previous object,
 * so the nodes drawing it need not re-render; `changed` names the others.
 */
export function nodeViews(
  props: Pick<DagProps, "graph" | "nodes" | "fanouts">,
  selected: string | undefined,
  previous: ReadonlyMap<string, CacheEntry>,
): { views: Map<string, CacheEntry>; changed: Set<string> } {
  const { graph, nodes, fanouts } = props;
  const views = new Map<string, CacheEntry>();
  const changed = new Set<string>();
  for (const n of graph.nodes) {
    const live = nodes.get(n.id);
    const status = live?.status ?? "PENDING";
    const summary = n.kind === "map" ? describeFanout(fanouts.get(n.id)) : undefined;
    const isSelected = selected === n.id;
    const reused = live?.reused;
    const reuseKey = reused ? `${reused.from}:${reused.executionId}:${reused.nodeId}` : "";
    const key = `${status}|${live?.startedAt ?? ""}|${live?.endedAt ?? ""}|${summary ?? ""}|${isSelected}|${n.interactive}|${n.task}|${reuseKey}`;
    const known = previous.get(n.id);
    if (known && known.key === key) {
      views.set(n.id, known);
      continue;
    }
    changed.add(n.id);
    views.set(n.id, {
      key,
      view: {
        nodeId: n.id,
        task: n.task,
        status,
        interactive: n.interactive,
        ...(live?.startedAt ? { startedAt: live.startedAt } : {}),
        ...(live?.endedAt ? { endedAt: live.endedAt } : {}),
        ...(summary ? { summary } : {}),
        ...(reused ? { reused } : {}),
        selected: isSelected,
      },
    });
  }
  return { views, changed };
}

/** Placed by the layout and sized by it, so React Flow measures nothing; not draggable, selectable or focusable. */
function fixedNode(id: string, position: Point, width: number, height: number) {
  return {
    id,
    position,
    width,
    height,
    measured: { width, height },
    handles: sideHandles(width, height),
    selectable: false,
    focusable: false,
    draggable: false,
  };
}

function frameNode(group: DagGroup, views: ReadonlyMap<string, CacheEntry>): FrameFlowNode {
  return {
    ...fixedNode(group.id, { x: group.x, y: group.y }, group.width, group.height),
    type: "frame",
    data: {
      label: group.label,
      columns: group.columns,
      members: group.members.flatMap((m) => views.get(m)?.view ?? []),
    },
  };
}

function taskNode(id: string, position: Point, view: NodeView): TaskFlowNode {
  return { ...fixedNode(id, position, NODE_WIDTH, NODE_HEIGHT), type: "task", data: { view } };
}

/**
 * The React Flow nodes: plain nodes, and one frame per sibling block. Each node's view object is reused while
 * what it shows is unchanged, so only nodes whose status moved re-render.
 */
function useFlowNodes(props: DagProps): FlowNode[] {
  const { graph, layout, nodes, fanouts } = props;
  const selected = selectedDagNode(props.selected);
  const cache = useRef<{
    layout: DagLayout;
    views: Map<string, CacheEntry>;
    flow: Map<string, FlowNode>;
  }>({ layout, views: new Map(), flow: new Map() });
  return useMemo(() => {
    const same = cache.current.layout === layout;
    const previousViews = same ? cache.current.views : new Map<string, CacheEntry>();
    const previousFlow = same ? cache.current.flow : new Map<string, FlowNode>();
    const { views, changed } = nodeViews({ graph, nodes, fanouts }, selected, previousViews);
    const flow = new Map<string, FlowNode>();
    const out: FlowNode[] = [];
    for (const g of layout.groups) {
      const before = previousFlow.get(g.id);
      const node = before && !g.members.some((m) => changed.has(m)) ? before : frameNode(g, views);
      flow.set(g.id, node);
      out.push(node);
    }
    const grouped = new Set(layout.groups.flatMap((g) => g.members));
    for (const n of graph.nodes) {
      const position = layout.positions.get(n.id);
      const view = views.get(n.id)?.view;
      if (grouped.has(n.id) || !position || !view) continue;
      const before = previousFlow.get(n.id);
      const node = before && !changed.has(n.id) ? before : taskNode(n.id, position, view);
      flow.set(n.id, node);
      out.push(node);
    }
    cache.current = { layout, views, flow };
    return out;
  }, [graph, layout, nodes, fanouts, selected]);
}

/** How many task nodes lie wholly inside the first view: the ones that must be drawn before it counts as drawn. */
function nodesInView(
  layout: DagLayout,
  viewport: { x: number; y: number; zoom: number },
  width: number,
  height: number,
): number {
  let count = 0;
  for (const p of layout.positions.values()) {
    const left = p.x * viewport.zoom + viewport.x;
    const top = p.y * viewport.zoom + viewport.y;
    if (
      left >= 0 &&
      top >= 0 &&
      left + NODE_WIDTH * viewport.zoom <= width &&
      top + NODE_HEIGHT * viewport.zoom <= height
    )
      count += 1;
  }
  return count;
}

function useFlowEdges(layout: DagLayout): Edge[] {
  return useMemo<Edge[]>(
    () =>
      layout.edges.map((e) => ({
        id: e.id,
        source: e.source,
        target: e.target,
        markerEnd: EDGE_MARKER,
        focusable: false,
        selectable: false,
      })),
    [layout],
  );
}

/**
 * The first view shows the whole DAG; computed here rather than with fitView so the first render is the final
 * one. Until the user pans or zooms, the whole DAG stays in view when its box changes size (the pane opening, say).
 */
function useFittedViewport(layout: DagLayout, width: number, height: number) {
  const flow = useReactFlow();
  const fitted = (w: number, h: number) =>
    getViewportForBounds(
      { x: 0, y: 0, width: Math.max(layout.width, 1), height: Math.max(layout.height, 1) },
      w,
      h,
      MIN_ZOOM,
      1,
      0.08,
    );
  const [initial] = useState(() => fitted(width, height));
  const moved = useRef(false);
  const firstSize = useRef({ width, height });
  useEffect(() => {
    if (moved.current || (firstSize.current.width === width && firstSize.current.height === height))
      return;
    firstSize.current = { width, height };
    void flow.setViewport(fitted(width, height));
    // fitted() depends only on the layout (fixed for this canvas) and the size.
  }, [width, height]);
  const onMove = (event: MouseEvent | TouchEvent | null) => {
    // Programmatic moves carry no event; a person panned or zoomed (a click alone starts a gesture but moves nothing).
    if (event) moved.current = true;
  };
  return { initial, onMove };
}

/** What a node button does: select its node, and bring a node reached by keyboard into view. */
function useDagActions(layout: DagLayout, onSelect: (nodeId: string) => void) {
  const store = useStoreApi();
  return useMemo(
    () => ({
      select: onSelect,
      reveal: (id: string) => {
        const p = layout.positions.get(id);
        if (!p) return;
        const { transform, width: w, height: h, setCenter } = store.getState();
        const [tx, ty, zoom] = transform;
        const left = p.x * zoom + tx;
        const top = p.y * zoom + ty;
        if (left < 0 || top < 0 || left + NODE_WIDTH * zoom > w || top + NODE_HEIGHT * zoom > h) {
          void setCenter(p.x + NODE_WIDTH / 2, p.y + NODE_HEIGHT / 2, {
            zoom: Math.max(zoom, 0.8),
          });
        }
      },
    }),
    [layout, onSelect, store],
  );
}

/** Marks `drydock:dag-rendered` once every node of the first view is drawn: the console benchmark times the DAG by it. */
function useRenderedMark(container: RefObject<HTMLDivElement | null>, expected: number) {
  useEffect(() => {
    if (performance.getEntriesByName("drydock:dag-rendered").length > 0) return;
    let frame = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      const drawn = container.current?.querySelectorAll(".dag-node").length ?? 0;
      if (drawn >= expected) {
        // After this frame is painted, not merely committed.
        timer = setTimeout(() => performance.mark("drydock:dag-rendered"), 0);
        return;
      }
      frame = requestAnimationFrame(check);
    };
    frame = requestAnimationFrame(check);
    return () => {
      cancelAnimationFrame(frame);
      if (timer) clearTimeout(timer);
    };
  }, [expected]);
}

function DagCanvas(props: DagProps & { width: number; height: number }) {
  const { layout, width, height, onSelect } = props;
  const flowNodes = useFlowNodes(props);
  const edges = useFlowEdges(layout);
  const far = useStore((s) => s.transform[2] < FAR_ZOOM);
  const { initial, onMove } = useFittedViewport(layout, width, height);
  const actions = useDagActions(layout, onSelect);
  const container = useRef<HTMLDivElement>(null);
  const [expected] = useState(() => nodesInView(layout, initial, width, height));
  useRenderedMark(container, expected);

  return (
    <DagActions.Provider value={actions}>
      <FarAway.Provider value={far}>
        <div ref={container} className={`dag-canvas${far ? " far" : ""}`}>
          <ReactFlow<FlowNode>
            nodes={flowNodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            defaultViewport={initial}
            minZoom={MIN_ZOOM}
            maxZoom={MAX_ZOOM}
            nodesDraggable={false}
            nodesConnectable={false}
            nodesFocusable={false}
            edgesFocusable={false}
            elementsSelectable={false}
            onlyRenderVisibleElements={flowNodes.length > CULL_ABOVE}
            colorMode="system"
            aria-label="Workflow graph"
            onMove={onMove}
          >
            <Background gap={24} size={1} />
            <Controls
              showInteractive={false}
              fitViewOptions={{ padding: 0.08, minZoom: MIN_ZOOM, maxZoom: 1 }}
            />
          </ReactFlow>
        </div>
      </FarAway.Provider>
    </DagActions.Provider>
  );
}

/** The DAG, in a box sized by CSS; React Flow starts once the box's size is known. */
export default function Dag(props: DagProps) {
  const box = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState<{ width: number; height: number }>();
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    setSize({ width: el.clientWidth, height: el.clientHeight });
    const observer = new ResizeObserver(() =>
      setSize((s) =>
        s && s.width === el.clientWidth && s.height === el.clientHeight
          ? s
          : { width: el.clientWidth, height: el.clientHeight },
      ),
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return (
    <div ref={box} className="dag-box">
      {size && (
        <ReactFlowProvider
          key={`${props.layout.width}x${props.layout.height}:${props.layout.positions.size}`}
        >
          <DagCanvas {...props} width={size.width} height={size.height} />
        </ReactFlowProvider>
      )}
    </div>
  );
}
