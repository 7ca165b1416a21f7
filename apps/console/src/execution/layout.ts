/**
 * Where each DAG node goes, left to right. dagre lays out the graph, with one twist that keeps wide DAGs fast
 * and readable: siblings (nodes with the same upstream and the same downstream nodes, like 999 parallel tasks
 * feeding one) are laid out as one block, drawn as a grid inside a frame, and their edges as one edge per
 * neighbour. dagre then sees two nodes where there were a thousand.
 */
import { Graph, layout as dagreLayout } from "@dagrejs/dagre";

import type { DagEdge, DagGraph } from "./graph.js";

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 62;
/** Siblings this many or more become a grid block. */
export const GRID_MIN = 12;
export const GRID_GAP_X = 12;
export const GRID_GAP_Y = 10;
export const GROUP_PADDING = 14;
export const GROUP_HEADER = 30;
/** A block's grid is about this much wider than tall, so a fitted view of it stays legible. */
const GRID_ASPECT = 1.5;
/** Beyond this many laid-out units dagre's crossing minimisation gets slow; a plain layering takes over. */
export const DAGRE_MAX_UNITS = 400;
const RANK_SEP = 72;
const NODE_SEP = 18;

export interface Point {
  x: number;
  y: number;
}

/** A block of sibling nodes drawn as a grid in a frame. */
export interface DagGroup {
  id: string;
  label: string;
  members: string[];
  columns: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DagLayout {
  /** Top-left corner of each node. */
  positions: Map<string, Point>;
  groups: DagGroup[];
  /** Edges between drawn things: nodes and group frames (by group id). */
  edges: (DagEdge & { id: string })[];
  width: number;
  height: number;
}

interface Unit {
  id: string;
  width: number;
  height: number;
  group?: { label: string; members: string[]; columns: number };
}

function byNodeOrder(a: string, b: string): number {
  const na = Number(/^n(\d+)/.exec(a)?.[1] ?? Number.NaN);
  const nb = Number(/^n(\d+)/.exec(b)?.[1] ?? Number.NaN);
  return Number.isNaN(na) || Number.isNaN(nb) || na === nb ? a.localeCompare(b) : na - nb;
}

/** How many columns a block of `count` nodes gets. */
export function gridColumns(count: number): number {
  const cellWidth = NODE_WIDTH + GRID_GAP_X;
  const cellHeight = NODE_HEIGHT + GRID_GAP_Y;
  return Math.max(
    1,
    Math.min(count, Math.round(Math.sqrt((count * cellHeight * GRID_ASPECT) / cellWidth))),
  );
}

/** Sibling sets of at least GRID_MIN nodes, keyed by their first member; members in node order. */
export function siblingGroups(graph: DagGraph): string[][] {
  const up = new Map<string, string[]>();
  const down = new Map<string, string[]>();
  for (const n of graph.nodes) {
    up.set(n.id, []);
    down.set(n.id, []);
  }
  for (const e of graph.edges) {
    up.get(e.target)?.push(e.source);
    down.get(e.source)?.push(e.target);
  }
  const bySignature = new Map<string, string[]>();
  for (const n of graph.nodes) {
    const signature = `${[...new Set(up.get(n.id))].sort().join(",")}|${[...new Set(down.get(n.id))].sort().join(",")}`;
    const members = bySignature.get(signature);
    if (members) members.push(n.id);
    else bySignature.set(signature, [n.id]);
  }
  return [...bySignature.values()]
    .filter((m) => m.length >= GRID_MIN)
    .map((m) => m.sort(byNodeOrder));
}

/** A plain left-to-right layering (longest path from the sources), for graphs too big for dagre. */
function layerUnits(units: Unit[], edges: DagEdge[]): Map<string, Point> {
  const incoming = new Map<string, string[]>(units.map((u) => [u.id, []]));
  const outgoing = new Map<string, string[]>(units.map((u) => [u.id, []]));
  for (const e of edges) {
    incoming.get(e.target)?.push(e.source);
    outgoing.get(e.source)?.push(e.target);
  }
  const rank = new Map<string, number>();
  const waiting = new Map(units.map((u) => [u.id, incoming.get(u.id)?.length ?? 0]));
  const queue = units.filter((u) => waiting.get(u.id) === 0).map((u) => u.id);
  for (let i = 0; i < queue.length; i += 1) {
    const id = queue[i] as string;
    const r = Math.max(0, ...(incoming.get(id) ?? []).map((s) => (rank.get(s) ?? 0) + 1));
    rank.set(id, r);
    for (const t of outgoing.get(id) ?? []) {
      const left = (waiting.get(t) ?? 0) - 1;
      waiting.set(t, left);
      if (left === 0) queue.push(t);
    }
  }
  // Nodes on a cycle (a malformed spec) never come free; they go after the rest rather than vanish.
  const last = Math.max(0, ...rank.values()) + 1;
  const ranks: Unit[][] = [];
  for (const u of units) (ranks[rank.get(u.id) ?? last] ??= []).push(u);
  const centres = new Map<string, Point>();
  let x = 0;
  for (const column of ranks) {
    if (!column) continue;
    const width = Math.max(...column.map((u) => u.width));
    const height = column.reduce((h, u) => h + u.height, 0) + NODE_SEP * (column.length - 1);
    let y = -height / 2;
    for (const u of column) {
      centres.set(u.id, { x: x + width / 2, y: y + u.height / 2 });
      y += u.height + NODE_SEP;
    }
    x += width + RANK_SEP;
  }
  return centres;
}

function dagreUnits(units: Unit[], edges: DagEdge[]): Map<string, Point> {
  const g = new Graph();
  g.setGraph({ rankdir: "LR", nodesep: NODE_SEP, ranksep: RANK_SEP, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const u of units) g.setNode(u.id, { width: u.width, height: u.height });
  for (const e of edges) g.setEdge(e.source, e.target);
  dagreLayout(g);
  return new Map(
    units.map((u) => {
      const { x, y } = g.node(u.id) as { x: number; y: number };
      return [u.id, { x, y }];
    }),
  );
}

/** Lays the graph out; positions are top-left corners, the whole starting at (0, 0). */
export function layoutDag(graph: DagGraph): DagLayout {
  const taskOf = new Map(graph.nodes.map((n) => [n.id, n.task]));
  const unitOf = new Map<string, string>();
  const units: Unit[] = [];
  const grouped = new Set<string>();
  for (const members of siblingGroups(graph)) {
    const id = `group-${members[0]}`;
    const columns = gridColumns(members.length);
    const rows = Math.ceil(members.length / columns);
    const tasks = new Set(members.map((m) => taskOf.get(m)));
    const label =
      tasks.size === 1
        ? `${members.length} × ${[...tasks][0]}`
        : `${members.length} parallel nodes`;
    units.push({
      id,
      width: columns * NODE_WIDTH + (columns - 1) * GRID_GAP_X + 2 * GROUP_PADDING,
      height: rows * NODE_HEIGHT + (rows - 1) * GRID_GAP_Y + GROUP_PADDING + GROUP_HEADER,
      group: { label, members, columns },
    });
    for (const m of members) {
      unitOf.set(m, id);
      grouped.add(m);
    }
  }
  for (const n of graph.nodes) {
    if (grouped.has(n.id)) continue;
    unitOf.set(n.id, n.id);
    units.push({ id: n.id, width: NODE_WIDTH, height: NODE_HEIGHT });
  }

  const edges: (DagEdge & { id: string })[] = [];
  const seen = new Set<string>();
  for (const e of graph.edges) {
    const source = unitOf.get(e.source);
    const target = unitOf.get(e.target);
    if (!source || !target || source === target) continue;
    const id = `e-${source}-${target}`;
    if (seen.has(id)) continue;
    seen.add(id);
    edges.push({ id, source, target });
  }

  const centres =
    units.length > DAGRE_MAX_UNITS ? layerUnits(units, edges) : dagreUnits(units, edges);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const u of units) {
    const c = centres.get(u.id) ?? { x: 0, y: 0 };
    minX = Math.min(minX, c.x - u.width / 2);
    minY = Math.min(minY, c.y - u.height / 2);
    maxX = Math.max(maxX, c.x + u.width / 2);
    maxY = Math.max(maxY, c.y + u.height / 2);
  }
  if (units.length === 0) minX = minY = maxX = maxY = 0;

  const positions = new Map<string, Point>();
  const groups: DagGroup[] = [];
  for (const u of units) {
    const c = centres.get(u.id) ?? { x: 0, y: 0 };
    const x = c.x - u.width / 2 - minX;
    const y = c.y - u.height / 2 - minY;
    if (!u.group) {
      positions.set(u.id, { x, y });
      continue;
    }
    groups.push({
      id: u.id,
      label: u.group.label,
      members: u.group.members,
      columns: u.group.columns,
      x,
      y,
      width: u.width,
      height: u.height,
    });
    u.group.members.forEach((m, i) => {
      const column = i % (u.group?.columns ?? 1);
      const row = Math.floor(i / (u.group?.columns ?? 1));
      positions.set(m, {
        x: x + GROUP_PADDING + column * (NODE_WIDTH + GRID_GAP_X),
        y: y + GROUP_HEADER + row * (NODE_HEIGHT + GRID_GAP_Y),
      });
    });
  }
  return { positions, groups, edges, width: maxX - minX, height: maxY - minY };
}
