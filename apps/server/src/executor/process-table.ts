/**
 * The uids of this machine's processes, from /proc: which uids are in use (a new attempt's must not be), and
 * which processes still run as an ended attempt's uid (they are killed). Every launch and every agent's end
 * reads the whole table, and a fan-out's agents start and end together, so:
 * - callers that ask while a scan runs share the next one, which starts after they asked (a scan that began
 *   earlier could miss what they are looking for);
 * - each process's status is read synchronously, some dozens at a time between turns of the event loop: one
 *   system call each way instead of four round trips through the thread pool (a table of 100 processes cost
 *   about 20 ms of CPU read asynchronously).
 */
import { readdirSync, readFileSync } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";

/** A process's uids (real, effective, saved, file system) and whether it is a zombie (it holds nothing). */
export interface ProcessUids {
  uids: number[];
  zombie: boolean;
}

/** Processes read between two turns of the event loop. */
const PER_TURN = 64;

async function readTable(): Promise<Map<number, ProcessUids>> {
  const table = new Map<number, ProcessUids>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return table;
  }
  let read = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    if (++read % PER_TURN === 0) await nextTurn();
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, "utf8");
    } catch {
      continue; // It ended meanwhile.
    }
    const line = /^Uid:\s+(.*)$/m.exec(status)?.[1] ?? "";
    table.set(Number(entry), {
      uids: line.split(/\s+/).filter(Boolean).map(Number),
      zombie: /^State:\s+[ZX]/m.test(status),
    });
  }
  return table;
}

let running: Promise<Map<number, ProcessUids>> | undefined;
let queued: Promise<Map<number, ProcessUids>> | undefined;

/** The process table, read after this call (see above: concurrent callers share one read). */
export function processTable(): Promise<Map<number, ProcessUids>> {
  if (!running) {
    running = readTable().finally(() => {
      running = undefined;
    });
    return running;
  }
  queued ??= running
    .catch(() => undefined)
    .then(() => {
      queued = undefined;
      return processTable();
    });
  return queued;
}
