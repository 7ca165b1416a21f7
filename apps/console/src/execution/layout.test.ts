import { describe, expect, it } from "vitest";

import type { DagGraph } from "./graph.js";
import {
  DAGRE_MAX_UNITS,
  GRID_MIN,
  gridColumns,
  layoutDag,
  NODE_HEIGHT,
  NODE_WIDTH,
  siblingGroups,
} from "./layout.js";

const graph = (ids: string[], edges: [string, string][], task = "t"): DagGraph => ({
  nodes: ids.map((id) => ({ id, task, kind: "task", interactive: false })),
  edges: edges.map(([source, target]) => ({ source, target })),
});

/** `width` parallel nodes n0…n(width-1) feeding n(width). */
const wide = (width: number): DagGraph => {
  const ids = Array.from({ length: width + 1 }, (_, i) => `n${i}`);
  return graph(
    ids,
    ids.slice(0, width).map((id) => [id, `n${width}`]),
  );
};

function overlaps(a: { x: number; y: number }, b: { x: number; y: number }): boolean {
  return Math.abs(a.x - b.x) < NODE_WIDTH && Math.abs(a.y - b.y) < NODE_HEIGHT;
}

describe("layoutDag", () => {
  it("lays a chain out left to right, starting at the origin", () => {
    const layout = layoutDag(
      graph(
        ["n0", "n1", "n2"],
        [
          ["n0", "n1"],
          ["n1", "n2"],
        ],
      ),
    );
    const [a, b, c] = ["n0", "n1", "n2"].map((id) => layout.positions.get(id)!);
    expect(a!.x).toBe(0);
    expect(a!.x).toBeLessThan(b!.x);
    expect(b!.x).toBeLessThan(c!.x);
    expect(layout.edges.map((e) => e.id)).toEqual(["e-n0-n1", "e-n1-n2"]);
    expect(layout.groups).toEqual([]);
    expect(layout.width).toBeGreaterThanOrEqual(3 * NODE_WIDTH);
  });

  it("places every node of a diamond without overlaps", () => {
    const layout = layoutDag(
      graph(
        ["n0", "n1", "n2", "n3"],
        [
          ["n0", "n1"],
          ["n0", "n2"],
          ["n1", "n3"],
          ["n2", "n3"],
        ],
      ),
    );
    const points = [...layout.positions.values()];
    expect(points).toHaveLength(4);
    for (let i = 0; i < points.length; i += 1)
      for (let j = i + 1; j < points.length; j += 1)
        expect(overlaps(points[i]!, points[j]!)).toBe(false);
    expect(layout.positions.get("n1")!.x).toBe(layout.positions.get("n2")!.x);
  });

  it("leaves a few parallel siblings as plain nodes", () => {
    const layout = layoutDag(wide(GRID_MIN - 1));
    expect(layout.groups).toEqual([]);
    expect(layout.edges).toHaveLength(GRID_MIN - 1);
  });

  // How long these large layouts take is measured in bench/execution-view.ts; here only what they look like.
  it("draws 999 parallel nodes feeding one as a grid block with one edge", () => {
    const layout = layoutDag(wide(999));
    expect(layout.positions.size).toBe(1_000);
    expect(layout.groups).toHaveLength(1);
    const group = layout.groups[0]!;
    expect(group).toMatchObject({ id: "group-n0", label: "999 × t" });
    expect(group.members).toHaveLength(999);
    expect(layout.edges).toEqual([{ id: "e-group-n0-n999", source: "group-n0", target: "n999" }]);
    // Every member sits inside its frame, the sink to its right, and no two members overlap.
    const seen = new Set<string>();
    for (const m of group.members) {
      const p = layout.positions.get(m)!;
      expect(p.x).toBeGreaterThanOrEqual(group.x);
      expect(p.y).toBeGreaterThanOrEqual(group.y);
      expect(p.x + NODE_WIDTH).toBeLessThanOrEqual(group.x + group.width);
      expect(p.y + NODE_HEIGHT).toBeLessThanOrEqual(group.y + group.height);
      seen.add(`${p.x},${p.y}`);
    }
    expect(seen.size).toBe(999);
    expect(layout.positions.get("n999")!.x).toBeGreaterThan(group.x + group.width);
    // Roughly as wide as tall, not one column 70,000 px high.
    expect(group.width / group.height).toBeGreaterThan(0.8);
    expect(group.width / group.height).toBeLessThan(3);
  });

  it("labels a block of different tasks by its size", () => {
    const g = wide(20);
    g.nodes = g.nodes.map((n, i) => ({ ...n, task: i % 2 ? "a" : "b" }));
    expect(layoutDag(g).groups[0]?.label).toBe("20 parallel nodes");
  });

  it("falls back to plain layering for graphs too big for dagre, still left to right without overlaps", () => {
    // Pairs a_i → b_i share no neighbours, so nothing groups: 2 × 300 units.
    const pairs = DAGRE_MAX_UNITS / 2 + 100;
    const ids = Array.from({ length: pairs * 2 }, (_, i) => `n${i}`);
    const edges: [string, string][] = Array.from({ length: pairs }, (_, i) => [
      `n${i}`,
      `n${i + pairs}`,
    ]);
    const layout = layoutDag(graph(ids, edges));
    expect(layout.positions.size).toBe(ids.length);
    for (const [s, t] of edges)
      expect(layout.positions.get(s)!.x).toBeLessThan(layout.positions.get(t)!.x);
    const ys = new Set([...layout.positions.values()].map((p) => `${p.x},${p.y}`));
    expect(ys.size).toBe(ids.length);
    expect(Math.min(...[...layout.positions.values()].map((p) => p.y))).toBe(0);
  });

  it("lays out an empty graph", () => {
    expect(layoutDag(graph([], []))).toEqual({
      positions: new Map(),
      groups: [],
      edges: [],
      width: 0,
      height: 0,
    });
  });
});

describe("siblingGroups / gridColumns", () => {
  it("groups only nodes with the same upstream and downstream nodes", () => {
    const ids = Array.from({ length: 30 }, (_, i) => `n${i}`);
    // n0..n13 feed n28; n14..n27 feed n29: two groups of 14.
    const edges: [string, string][] = ids.slice(0, 28).map((id, i) => [id, i < 14 ? "n28" : "n29"]);
    const groups = siblingGroups(graph(ids, edges));
    expect(groups.map((g) => [g[0], g.length])).toEqual([
      ["n0", 14],
      ["n14", 14],
    ]);
  });

  it("orders members by node number, not by text", () => {
    const g = wide(12);
    g.nodes.reverse();
    expect(siblingGroups(g)[0]?.slice(0, 3)).toEqual(["n0", "n1", "n2"]);
  });

  it("gives a block at least one column and never more than it has nodes", () => {
    expect(gridColumns(1)).toBe(1);
    expect(gridColumns(12)).toBeLessThanOrEqual(12);
    expect(gridColumns(999)).toBeGreaterThan(10);
  });
});
