import type { TaskSpec } from "@drydock/contracts";
import type { ExecutorKind, Isolation } from "@drydock/contracts/router";

/** Labels on everything an executor starts where its engine has labels (containers, cluster services). */
export const LABELS = {
  /** Which server installation started it (a hash of its signing secret): servers sharing an engine keep apart. */
  instance: "drydock.instance",
  /** The server replica that started or took it over (see services/scheduler/replicas.ts). */
  replica: "drydock.replica",
  /** The attempt it was started for (its agent's name). */
  attempt: "drydock.attempt",
  execution: "drydock.execution",
  task: "drydock.task",
} as const;

/** What an executor is told to run: one attempt of `task`, whose agent authenticates with `token`. */
export interface AttemptLaunch {
  attemptId: string;
  executionId: string;
  token: string;
  /** Where and with what the attempt runs: its image (`image.ref`), resource limits and the nodes it may run on. */
  task: Pick<TaskSpec, "name" | "image" | "resources" | "nodeSelector">;
  /**
   * The attempt may pause (onFailure "pause", a pause point): its task runs in a process of its own, which
   * the agent starts beside itself when told so (`DRYDOCK_ATTEMPT_PAUSES=1`, see agentEnvironment).
   */
  pauses?: boolean;
  /**
   * The sha256 of the attempt's code bundle: an executor may put the bundle where the agent looks for it first
   * (the local one does for isolated agents, see bundle-shelf.ts); otherwise the agent downloads it.
   */
  bundle?: string;
}

/** The variables an executor gives an attempt's agent, besides its own (PATH, HOME, …). */
export function agentEnvironment(attempt: AttemptLaunch, endpoint: string): Record<string, string> {
  return {
    DRYDOCK_ENDPOINT: endpoint,
    DRYDOCK_AGENT_TOKEN: attempt.token,
    DRYDOCK_ATTEMPT_ID: attempt.attemptId,
    ...(attempt.pauses ? { DRYDOCK_ATTEMPT_PAUSES: "1" } : {}),
  };
}

export interface AttemptExit {
  code: number | null;
  signal: string | null;
  /** The last lines the agent printed, to explain an exit it did not report itself. */
  tail: string;
}

/** Options every executor takes. */
export interface ExecutorOptions {
  /** This server replica's id: it labels what the executor starts (LABELS.replica). */
  replica?: string;
  /** How long an agent gets between SIGTERM and SIGKILL when it is terminated (default 5). */
  terminateGraceSeconds?: number;
}

/** Runs agents somewhere (a local process group, a container, a pod) and tells when they end. */
export interface Executor {
  readonly kind: ExecutorKind;
  /** How its attempts are kept from each other and from the server (health reports it; `drydock up` warns on none). */
  readonly isolation: Isolation;
  /**
   * Whether an agent that finished an attempt may run the next queued attempt of its execution (`handOver`).
   * Processes may; containers do not, since the next task may need another image or other limits.
   */
  readonly warmAgents: boolean;
  launch(attempt: AttemptLaunch): Promise<{ pid: number }>;
  /**
   * Takes back an agent started before a server restart (launched as `agent`, now running `attemptId`);
   * false when it is no longer running.
   */
  adopt(attemptId: string, pid: number, agent: string): Promise<boolean>;
  /**
   * A warm agent that finished `from` now runs `to`: its exit and termination now concern `to`.
   * False when this executor does not know the agent (a restart found it between attempts): adopt it then.
   */
  handOver(from: string, to: string): boolean;
  /**
   * After adoptions: ends what this executor's installation started for the replicas in `ended` (replicas that
   * have stopped, this server's own earlier lives among them) that no attempt took back. What carries no
   * replica (started by an older version) counts as ended. What a live replica runs is never touched.
   */
  forgetOthers?(ended: ReadonlySet<string>): Promise<void>;
  /**
   * Ends the attempt's whole process tree and resolves once nothing of it remains. Where the engine is shared
   * (a cluster, one Docker engine), this reaches an attempt another replica started too.
   */
  terminate(attemptId: string): Promise<void>;
  onExit(listener: (attemptId: string, exit: AttemptExit) => void): void;
  /** Ends every agent it runs. */
  shutdown(): Promise<void>;
}
