import {
  AckSchema,
  AgentCompleteInput,
  AgentCompleteOutput,
  AgentFailInput,
  AgentHeartbeatInput,
  AgentHeartbeatOutput,
  AgentLogInput,
  AgentNextOutput,
  AgentStartedInput,
  AttemptAssignmentSchema,
} from "../agent.js";
import {
  AgentEndSessionInput,
  AgentOpenSessionInput,
  AgentOpenSessionOutput,
  AgentUpdateSessionInput,
} from "../relay.js";
import { mutation, query } from "./access.js";

/** What the agent of an attempt calls, with the attempt-scoped token it was started with. */
export const agentProcedures = {
  assignment: query("agent", { output: AttemptAssignmentSchema }),
  started: mutation("agent", { input: AgentStartedInput, output: AckSchema }),
  heartbeat: mutation("agent", { input: AgentHeartbeatInput, output: AgentHeartbeatOutput }),
  log: mutation("agent", { input: AgentLogInput, output: AckSchema }),
  complete: mutation("agent", { input: AgentCompleteInput, output: AgentCompleteOutput }),
  fail: mutation("agent", { input: AgentFailInput, output: AckSchema }),
  next: mutation("agent", { output: AgentNextOutput }),
  openSession: mutation("agent", { input: AgentOpenSessionInput, output: AgentOpenSessionOutput }),
  updateSession: mutation("agent", { input: AgentUpdateSessionInput, output: AckSchema }),
  endSession: mutation("agent", { input: AgentEndSessionInput, output: AckSchema }),
};
