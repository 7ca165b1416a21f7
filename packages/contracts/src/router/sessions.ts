import {
  RevokeShareInput,
  SessionAccessSchema,
  SessionShareSchema,
  ShareSessionInput,
} from "../identity.js";
import { IdeTicketOutput, SessionIdInput } from "../relay.js";
import {
  InteractiveSessionSchema,
  NodeRefInput,
  ResumeSessionInput,
  SessionChangesOutput,
} from "../sessions.js";
import { mutation, query } from "./access.js";

export const sessionProcedures = {
  /** A single-use link into the session's IDE, for me: an editor of its project, or someone it is shared with. */
  ideTicket: mutation("opener@session", { input: SessionIdInput, output: IdeTicketOutput }),
  /**
   * Ends the node's live session by resuming the task (as the IDE's Resume Task does), with a choice for a
   * paused task: its edited code, its original code again (a new attempt), or ending it as failed.
   */
  resume: mutation("editor@execution", {
    input: ResumeSessionInput,
    output: InteractiveSessionSchema,
  }),
  /** Postpones the node's live session's idle end by its full maxIdleSeconds from now. */
  keepAlive: mutation("editor@execution", {
    input: NodeRefInput,
    output: InteractiveSessionSchema,
  }),
  /** The IDE's edits of the node's latest session, as a unified diff; also after it ended. */
  changes: query("viewer@execution", { input: NodeRefInput, output: SessionChangesOutput }),
  /** Who owns the session, who it is shared with, who opened it, and who is connected now. */
  access: query("viewer@session", { input: SessionIdInput, output: SessionAccessSchema }),
  /** Lets a teammate open the live session until an expiry (its owner, or an admin of the project). */
  share: mutation("owner@session", { input: ShareSessionInput, output: SessionShareSchema }),
  /** Ends a share: the relay refuses that person's cookie and closes their connections at once. */
  revokeShare: mutation("owner@session", { input: RevokeShareInput, output: SessionShareSchema }),
};
