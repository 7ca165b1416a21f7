/**
 * The part of the agent's environment that main.ts reads before the agent's own modules load (env.ts validates
 * the rest, with zod, which takes a while to load): whether to start the task's process at once.
 */

/**
 * The environment of what the agent starts for the user (code-server, its terminals, the debugged task): the
 * agent's own, less its attempt token, which nothing but the agent may hold.
 */
export function childEnvOf(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && entry[0] !== "DRYDOCK_AGENT_TOKEN",
    ),
  );
}

/**
 * `DRYDOCK_ATTEMPT_PAUSES=1`: the executor says the attempt may pause (onFailure "pause", a pause point), so
 * its task runs in a process of its own, which main.ts starts beside the agent; and that process's environment.
 */
export function earlyConfig(env: Record<string, string | undefined> = process.env): {
  attemptPauses: boolean;
  childEnv: Record<string, string>;
} {
  return { attemptPauses: env.DRYDOCK_ATTEMPT_PAUSES === "1", childEnv: childEnvOf(env) };
}
