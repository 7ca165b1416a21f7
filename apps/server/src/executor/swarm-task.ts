/**
 * What the states of an attempt's Swarm task mean for the attempt: when it has ended, and the exit to report.
 * Apart from the engine, so the cases one engine cannot show (a node that went away) are tested too.
 */
import { signalOf } from "./engine.js";
import type { AttemptExit } from "./executor.js";

/** The fields of a Swarm task (`GET /tasks`) the Swarm executor reads. */
export interface SwarmTask {
  ServiceID: string;
  CreatedAt: string;
  /** `running` while the service wants it; `shutdown` once it ended by itself; `remove` once its service is removed. */
  DesiredState: string;
  Status: {
    State: string;
    /** Why it failed, was rejected, or waits: "no suitable node (scheduling constraints not satisfied on 1 node)". */
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
  /** The service's task template, as the task was made from it. */
  Spec?: {
    Placement?: { Constraints?: string[] };
    Resources?: { Reservations?: { NanoCPUs?: number; MemoryBytes?: number } };
  };
}

/** One look at an attempt's service: its newest task, if it has one yet, and whether the service is still there. */
export interface ServiceLook {
  task?: SwarmTask;
  exists: boolean;
}

/**
 * How a watched service ended: its task stopped by itself (`ended`); the service was removed (a terminate, here
 * or on another replica) and its task stopped or is given up on (`removed`); or no node took its task (`unplaced`).
 */
export interface Ended {
  task?: SwarmTask;
  how: "ended" | "removed" | "unplaced";
}

/** Task states after which its container will not run (again): restarts are off, Drydock retries instead. */
const TERMINAL = new Set(["complete", "failed", "shutdown", "rejected", "orphaned", "remove"]);
/** States of a task no node has taken yet. */
const UNPLACED = new Set(["new", "allocated", "pending"]);

export const isTerminal = (task: SwarmTask) => TERMINAL.has(task.Status.State);

/** The newest of a service's tasks (with restarts off there is one, but a task being replaced may linger). */
export function newest(tasks: SwarmTask[]): SwarmTask | undefined {
  return tasks.reduce<SwarmTask | undefined>(
    (a, t) => (a === undefined || t.CreatedAt > a.CreatedAt ? t : a),
    undefined,
  );
}

/** What a task asks of a node, for messages: its placement constraints and reservations. */
export function describeDemands(task: SwarmTask): string {
  const { NanoCPUs, MemoryBytes } = task.Spec?.Resources?.Reservations ?? {};
  const demands = [
    ...(task.Spec?.Placement?.Constraints ?? []),
    ...(NanoCPUs ? [`${NanoCPUs / 1e9} CPU`] : []),
    ...(MemoryBytes ? [`${MemoryBytes / 1024 / 1024} MiB of memory`] : []),
  ];
  return demands.length > 0 ? demands.join(", ") : "no constraint or reservation";
}

/**
 * Decides from successive looks at an attempt's service when it has ended. A removed service's running task is
 * waited for while it stops (its last output comes meanwhile), but at most `stoppingMs`: a task on a node that
 * went away never reports again. A task is given up on as unplaced once the engine has said for `unplacedMs`
 * why no node takes it; one merely not scheduled yet (a busy manager, many services at once) is waited for.
 * `onUnplaced` hears that reason once.
 */
export class ServiceEnd {
  private last?: SwarmTask;
  private removedAt?: number;
  /** When the engine first gave a reason why no node takes the task. */
  private unplacedAt?: number;

  constructor(
    private readonly limits: { unplacedMs: number; stoppingMs: number },
    private readonly onUnplaced: (task: SwarmTask) => void,
  ) {}

  next(look: ServiceLook, now = Date.now()): Ended | undefined {
    const { task } = look;
    if (task) this.last = task;
    if (task && isTerminal(task))
      return { task, how: task.DesiredState === "remove" ? "removed" : "ended" };
    if (!look.exists) {
      if (!task || UNPLACED.has(task.Status.State))
        return { ...(this.last ? { task: this.last } : {}), how: "removed" };
      this.removedAt ??= now;
      return now - this.removedAt >= this.limits.stoppingMs ? { task, how: "removed" } : undefined;
    }
    if (task && UNPLACED.has(task.Status.State) && task.Status.Err) {
      if (this.unplacedAt === undefined) {
        this.unplacedAt = now;
        this.onUnplaced(task);
      }
      if (now - this.unplacedAt >= this.limits.unplacedMs) return { task, how: "unplaced" };
    }
    return undefined;
  }
}

/**
 * The exit to report: the container's status once it stopped; else the engine's reason, after the agent's last
 * output in the tail (a rejected task never ran: its image is not on the node, …).
 */
export function exitOf(ended: Ended, tail: string, unplacedSeconds: number): AttemptExit {
  const status = ended.task?.Status;
  if (ended.how === "unplaced" && ended.task)
    return {
      code: null,
      signal: null,
      tail: `no node of the swarm took the attempt within ${unplacedSeconds}s: ${status?.Err ?? "pending"}; it asks for ${describeDemands(ended.task)}`,
    };
  const ran = Boolean(status?.ContainerStatus?.ContainerID);
  if (status && (status.State === "rejected" || (status.Err && !ran))) {
    const what = status.State === "rejected" ? "rejected" : "could not start";
    const before = tail && !tail.endsWith("\n") ? `${tail}\n` : tail;
    return {
      code: null,
      signal: null,
      tail: `${before}the swarm ${what} the attempt's task: ${status.Err ?? status.State}`,
    };
  }
  // Only a container that has stopped has an exit code (a running one reports 0).
  const code =
    ran && ended.task && isTerminal(ended.task)
      ? (status?.ContainerStatus?.ExitCode ?? null)
      : null;
  return { code, signal: code === null ? null : signalOf(code), tail };
}
