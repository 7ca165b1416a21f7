/**
 * What the resume script reads from its environment: code-server gives the IDE's processes (its terminals
 * included) the agent's control socket and token. Another shell of the same user has neither.
 */
export const scriptEnv = {
  controlSocket: process.env.DRYDOCK_CONTROL_SOCKET,
  controlToken: process.env.DRYDOCK_CONTROL_TOKEN,
};
