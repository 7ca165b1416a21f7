import type { ExecutorKind, Isolation } from "@drydock/contracts/router";

import type { Db } from "../db/database.js";
import type { IdentityServices } from "../identity/services.js";
import type { AttemptAgentService } from "../services/attempt-agent.js";
import type { ExecutionService } from "../services/executions.js";
import type { Scheduler } from "../services/scheduler.js";
import type { SessionService } from "../services/sessions.js";
import type { WorkflowService } from "../services/workflows.js";
import type { DeviceLoginPort } from "./identity.js";

/** The services the API's handlers call. */
export interface HandlerServices {
  db: Db;
  workflows: WorkflowService;
  executions: ExecutionService;
  agent: AttemptAgentService;
  scheduler: Scheduler;
  sessions: SessionService;
  executor: ExecutorKind;
  isolation: Isolation;
  /** Where the cluster's nodes pull task images from (DRYDOCK_REGISTRY), told to the CLI by `health`. */
  registry?: string;
  identity: IdentityServices;
  deviceLogin: DeviceLoginPort;
  /** The OpenID provider's name, when one is configured. */
  oidcName: string | undefined;
  publicUrl: () => string;
}
