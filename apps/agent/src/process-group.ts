import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** One live (not zombie) process, as /proc/<pid>/stat describes it. */
interface ProcessStat {
  pid: number;
  ppid: number;
  pgrp: number;
}

/** Every live process: read from /proc, skipping zombies (they may never be reaped when they are not our children). */
async function liveProcesses(): Promise<ProcessStat[]> {
  const found: ProcessStat[] = [];
  for (const entry of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // After the command (which may hold spaces and parentheses): state, ppid, pgrp, …
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!stat || state === "Z") continue;
    found.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp) });
  }
  return found;
}

/** Whether a process `pid` exists (one of another user's too: signalling it is refused, not unknown). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether any process of the group still runs. Read from /proc rather than trusting `kill(-pgid, 0)`, which
 * also counts zombies: processes that are not our children (adopted after a restart, or started by a child)
 * may never be reaped.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return (await liveProcesses()).some((p) => p.pgrp === pgid);
}

/** The pids of every live descendant of `pid` (children, their children, …), read from /proc. */
export async function descendantsOf(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const p of await liveProcesses())
    children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() as number) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * Ends a process group and every descendant of its leader, also those that left the group (terminals run
 * in sessions of their own): SIGTERM to all, SIGKILL to what is left after `graceMs`; resolves once none
 * of them runs. Descendants are found first, while their parents still link them to the leader.
 */
export async function terminateTree(leader: number, graceMs: number): Promise<void> {
  const tree = await descendantsOf(leader);
  const signalAll = (signal: NodeJS.Signals) => {
    for (const target of [-leader, ...tree]) {
      try {
        process.kill(target, signal);
      } catch {
        // already gone
      }
    }
  };
  const alive = async () =>
    (await liveProcesses()).some((p) => p.pgrp === leader || tree.includes(p.pid));
  signalAll("SIGTERM");
  const deadline = Date.now() + graceMs;
  while ((await alive()) && Date.now() < deadline) await sleep(50);
  signalAll("SIGKILL");
  while (await alive()) await sleep(50);
}
