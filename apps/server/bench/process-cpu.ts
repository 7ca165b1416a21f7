/**
 * The CPU time of the processes a fan-out keeps busy, read from /proc (Linux only): this process (the server,
 * and the benchmark's own polling), its children once they ended (the agents: a child's CPU is added to its
 * parent's when it is reaped), and PostgreSQL's (the postmaster with the backends it reaped, and those still
 * running). No package reads a process's reaped children's CPU (`cutime`), so this reads /proc itself.
 */
import { readdirSync, readFileSync } from "node:fs";

/** /proc counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second on every architecture. */
const MS_PER_TICK = 10;

interface ProcStat {
  comm: string;
  /** This process's own CPU (user + system), ms. */
  ownMs: number;
  /** Its children's that ended and were waited for, ms. */
  reapedMs: number;
}

/** A process's /proc/<pid>/stat, or undefined once it is gone. */
function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold spaces: the fields are counted after its last ")".
  const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
  const fields = text
    .slice(text.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  // Fields 14–17 of proc(5) (utime, stime, cutime, cstime); fields[0] is field 3 (state).
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = fields.slice(11, 15);
  return { comm, ownMs: (utime + stime) * MS_PER_TICK, reapedMs: (cutime + cstime) * MS_PER_TICK };
}

/** The live children of a process (of all its threads). */
function childrenOf(pid: number): number[] {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return threads.flatMap((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8")
        .split(" ")
        .filter((s) => s !== "")
        .map(Number);
    } catch {
      return [];
    }
  });
}

const isPostgres = (pid: number) => procStat(pid)?.comm.startsWith("postgres") ?? false;

/** This process's CPU so far, ms. */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1_000;
}

/** The CPU of this process's children that have ended, ms. */
export function endedChildrenCpuMs(): number {
  return procStat(process.pid)?.reapedMs ?? 0;
}

/** The CPU of the embedded PostgreSQL (a child of this process) and of all its backends, ended or running, ms. */
export function postgresCpuMs(): number {
  let total = 0;
  for (const postmaster of childrenOf(process.pid).filter(isPostgres)) {
    const stat = procStat(postmaster);
    if (!stat) continue;
    total += stat.ownMs + stat.reapedMs;
    for (const backend of childrenOf(postmaster)) total += procStat(backend)?.ownMs ?? 0;
  }
  return total;
}

/** This process's running children other than PostgreSQL: the agents the local executor started. */
export function runningAgents(): number[] {
  return childrenOf(process.pid).filter((pid) => !isPostgres(pid));
}
