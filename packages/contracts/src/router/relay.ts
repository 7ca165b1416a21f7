import { AckSchema } from "../agent.js";
import type { RelayAccessEvent } from "../identity.js";
import { ReportConnectionsInput } from "../identity.js";
import {
  AuthorizeTunnelInput,
  AuthorizeTunnelOutput,
  RedeemTicketInput,
  RedeemTicketOutput,
  SessionIdInput,
} from "../relay.js";
import { mutation, subscription } from "./access.js";
import { eventType } from "./procedure.js";

/** What a relay calls, with the relay token, as it serves sessions' IDEs. */
export const relayProcedures = {
  authorizeTunnel: mutation("relay", {
    input: AuthorizeTunnelInput,
    output: AuthorizeTunnelOutput,
  }),
  redeemTicket: mutation("relay", { input: RedeemTicketInput, output: RedeemTicketOutput }),
  sessionReady: mutation("relay", { input: SessionIdInput, output: AckSchema }),
  /** The revocations in force, then each new one: the relay refuses those cookies and closes their connections. */
  accessEvents: subscription("relay", { event: eventType<RelayAccessEvent>() }),
  /** Everyone connected through this relay now (the console's "connected now"). */
  reportConnections: mutation("relay", { input: ReportConnectionsInput, output: AckSchema }),
};
