import { AckSchema } from "../agent.js";
import {
  AuthorizeTunnelInput,
  AuthorizeTunnelOutput,
  RedeemTicketInput,
  RedeemTicketOutput,
  SessionIdInput,
} from "../relay.js";
import { mutation } from "./access.js";

/** What a relay calls, with the relay token, as it serves sessions' IDEs. */
export const relayProcedures = {
  authorizeTunnel: mutation("relay", {
    input: AuthorizeTunnelInput,
    output: AuthorizeTunnelOutput,
  }),
  redeemTicket: mutation("relay", { input: RedeemTicketInput, output: RedeemTicketOutput }),
  sessionReady: mutation("relay", { input: SessionIdInput, output: AckSchema }),
};
