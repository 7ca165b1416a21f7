/** The benchmarks' table: one row per figure, a column per path, each goal with PASS or MISS. */
import type { PathName } from "./measure.js";

/** One line of the table; `direct` and `peer` are absent for relay-only figures. */
export interface Row {
  metric: string;
  direct?: number;
  relay: number;
  peer?: number;
  digits: number;
  /** How a path compares with direct, as the goal is phrased (÷ or −). */
  compare?: (path: number, direct: number) => string;
  /** Which way is better, for saying whether the relay is ahead of the peer. */
  better?: "higher" | "lower";
  goal?: string;
  pass?: boolean;
}

/** A figure of each path measured, by path. */
export type ByPath<T> = Partial<Record<PathName, T>>;

export const log = (line: string) => console.log(line);
export const fmt = (n: number, digits: number) => n.toFixed(digits);
export const pct = (n: number) => `${(n * 100).toFixed(0)} %`;
export const ratio = (path: number, direct: number) => pct(path / direct);
export const added = (path: number, direct: number) => `+${fmt(path - direct, 3)} ms`;
export const times = (path: number, direct: number) => `× ${fmt(path / direct, 2)}`;

export function printTable(rows: Row[]): void {
  const withPeer = rows.some((row) => row.peer !== undefined);
  const header = [
    "",
    "direct",
    "relay",
    ...(withPeer ? ["peer"] : []),
    "relay vs direct",
    ...(withPeer ? ["peer vs direct", "relay vs peer"] : []),
    "goal",
    "",
  ];
  const body = rows.map((row) => {
    const versus = (path: number | undefined) =>
      path === undefined || row.direct === undefined || !row.compare
        ? ""
        : row.compare(path, row.direct);
    const ahead =
      row.peer === undefined || !row.better
        ? ""
        : row.relay === row.peer
          ? "even"
          : row.relay > row.peer === (row.better === "higher")
            ? "ahead"
            : "behind";
    return [
      row.metric,
      row.direct === undefined ? "" : fmt(row.direct, row.digits),
      fmt(row.relay, row.digits),
      ...(withPeer ? [row.peer === undefined ? "" : fmt(row.peer, row.digits)] : []),
      versus(row.relay),
      ...(withPeer ? [versus(row.peer), ahead] : []),
      row.goal ?? "",
      row.pass === undefined ? "" : row.pass ? "PASS" : "MISS",
    ];
  });
  const widths = header.map((_, i) =>
    Math.max(...[header, ...body].map((line) => line[i]!.length)),
  );
  // Figures and comparisons right-aligned; the metric, the goal and its verdict left-aligned.
  const numeric = new Set(header.map((_, i) => i).filter((i) => i > 0 && i < header.length - 2));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  log("");
  log(line(header));
  log(line(widths.map((w) => "-".repeat(w))));
  for (const cells of body) log(line(cells));
  const missed = rows.filter((row) => row.pass === false).length;
  const goals = rows.filter((row) => row.pass !== undefined).length;
  log(`\n${goals - missed} of ${goals} goals met`);
  const raced = rows.filter((row) => row.peer !== undefined && row.better);
  if (raced.length > 0) {
    const behind = raced.filter((row) => row.relay > row.peer! !== (row.better === "higher"));
    log(
      `the relay is ahead of the peer on ${raced.length - behind.length} of ${raced.length} figures` +
        (behind.length > 0 ? ` (behind on ${behind.map((row) => row.metric).join(", ")})` : ""),
    );
  }
}
