/**
 * The extension's configuration: where the agent holding this session listens and the token it wants.
 * The agent starts code-server with both variables; the extension host inherits them. Read here only.
 */
export const SOCKET_VARIABLE = "DRYDOCK_CONTROL_SOCKET";
export const TOKEN_VARIABLE = "DRYDOCK_CONTROL_TOKEN";

export interface SessionEnv {
  /** The agent's control socket (a Unix socket path). */
  socketPath: string;
  /** Sent as `Authorization: Bearer <token>` with every call. */
  token: string;
}

export type SessionEnvResult =
  | { kind: "session"; env: SessionEnv }
  /** Not a Drydock task session: a plain code-server or VS Code window. */
  | { kind: "none" }
  /** Half-configured: a Drydock session whose agent forgot one variable — worth saying, not hiding. */
  | { kind: "invalid"; problem: string };

/** Reads the session's variables from `env` (process.env in the extension). */
export function readSessionEnv(
  env: Record<string, string | undefined> = process.env,
): SessionEnvResult {
  const socketPath = env[SOCKET_VARIABLE]?.trim() ?? "";
  const token = env[TOKEN_VARIABLE]?.trim() ?? "";
  if (!socketPath && !token) return { kind: "none" };
  if (!socketPath)
    return { kind: "invalid", problem: `${TOKEN_VARIABLE} is set but ${SOCKET_VARIABLE} is not` };
  if (!token)
    return { kind: "invalid", problem: `${SOCKET_VARIABLE} is set but ${TOKEN_VARIABLE} is not` };
  return { kind: "session", env: { socketPath, token } };
}
