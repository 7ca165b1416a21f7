import type { TaskSpec } from "@drydock/contracts";
import type { ExecutorKind, Isolation } from "@drydock/contracts/router";

/** What an executor is told to run: one attempt of `task`, whose agent authenticates with `token`. */
export interface AttemptLaunch {
  attemptId: string;
  executionId: string;
  token: string;
  /** Where and with what the attempt runs: its image (`image.ref`) and resource limits. */
  task: Pick<TaskSpec, "name" | "image" | "resources">;
  /**
   * The attempt may pause (onFailure "pause", a pause point): its task runs in a process of its own, which
   * the agent starts beside itself when told so (`DRYDOCK_ATTEMPT_PAUSES=1`, see agentEnvironment).
   */
  pauses?: boolean;
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
  /** After a restart's adoptions: ends what this executor started earlier that no attempt took back. */
  forgetOthers?(): Promise<void>;
  /** Ends the attempt's whole process tree and resolves once nothing of it remains. */
  terminate(attemptId: string): Promise<void>;
  onExit(listener: (attemptId: string, exit: AttemptExit) => void): void;
  /** Ends every agent it runs. */
  shutdown(): Promise<void>;
}
