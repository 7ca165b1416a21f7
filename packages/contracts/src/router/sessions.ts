import { IdeTicketOutput, SessionIdInput } from "../relay.js";
import { InteractiveSessionSchema, NodeRefInput, SessionChangesOutput } from "../sessions.js";
import { mutation, query } from "./access.js";

export const sessionProcedures = {
  ideTicket: mutation("user", { input: SessionIdInput, output: IdeTicketOutput }),
  /** Ends the node's live session by resuming the task (as the IDE's Resume Task does). */
  resume: mutation("user", { input: NodeRefInput, output: InteractiveSessionSchema }),
  /** Postpones the node's live session's idle end by its full maxIdleSeconds from now. */
  keepAlive: mutation("user", { input: NodeRefInput, output: InteractiveSessionSchema }),
  /** The IDE's edits of the node's latest session, as a unified diff; also after it ended. */
  changes: query("user", { input: NodeRefInput, output: SessionChangesOutput }),
};
