/**
 * What the executors that drive a Docker engine share (the Docker executor: containers on one engine; the Swarm
 * executor: services through a manager's engine): their settings, and how they read the engine's answers.
 */
import { constants } from "node:os";

import type Docker from "dockerode";

import type { Logger } from "../logger.js";
import type { ExecutorOptions } from "./executor.js";

export interface EngineExecutorOptions extends ExecutorOptions {
  /** The engine (for Swarm, a manager's): containers or services are created, listed and removed there. */
  docker: Docker;
  /** The image of tasks without a built ImageSpec (`task.image.ref`); every node must be able to get it. */
  taskImage: string;
  /** The network attempts join; from it they must reach the server (`endpoint`) and the relay. */
  network: string;
  /** The server's URL as agents on that network reach it (known once the server listens). */
  endpoint: () => string;
  /** Identifies this installation's containers or services on a shared engine (see LABELS.instance). */
  instance: string;
  /** `<dataDir>/attempts`: one folder per attempt, holding the agent's output as agent.log. */
  attemptsDir: string;
  /** Extra environment for every agent (DRYDOCK_HEARTBEAT_MS, …); the image provides PATH, HOME and the rest. */
  env: Record<string, string>;
  log: Logger;
}

/** The signal an exit status of 128+n stands for (Docker reports a killed process that way). */
export function signalOf(code: number): string | null {
  if (code <= 128) return null;
  const found = Object.entries(constants.signals).find(([, n]) => n === code - 128);
  return found ? found[0] : null;
}

/** The HTTP status of a failed Engine API call (404: no such object; 409: conflict; 503: not a manager). */
export const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;
