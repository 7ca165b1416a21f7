/** The handlers of interactive sessions (tickets, resume, shares) and of the relays that serve their IDEs. */
import type { AppHandlers } from "@drydock/contracts/router";

import type { HandlerServices } from "./handler-services.js";
import { sessionRefs } from "./refs.js";

const ok = { ok: true as const };

export function sessionHandlers(s: HandlerServices): AppHandlers["sessions"] {
  const { audit, shares } = s.identity;
  return {
    ideTicket: async (input, ctx) => {
      const ticket = await s.sessions.ideTicket(input.sessionId, ctx.principal.userId);
      await audit.record(ctx, "ide_ticket.issue", await sessionRefs(s.db, input.sessionId), {
        role: ctx.grant.role,
        expiresAt: ticket.expiresAt,
      });
      return ticket;
    },
    resume: async (input, ctx) => {
      // Recorded on the attempt as who chose: the person's e-mail, else their id.
      const user = await s.identity.users.byId(ctx.principal.userId);
      const by = user?.email ?? ctx.principal.userId;
      const session = await s.sessions.resume(input.executionId, input.nodeId, input.choice, by);
      await audit.record(
        ctx,
        "session.resume",
        {
          project: ctx.grant.project,
          executionId: input.executionId,
          nodeId: input.nodeId,
          sessionId: session.id,
        },
        { choice: input.choice },
      );
      return session;
    },
    keepAlive: async (input, ctx) => {
      const session = await s.sessions.keepAlive(input.executionId, input.nodeId);
      await audit.record(ctx, "session.keep_alive", {
        project: ctx.grant.project,
        ...input,
        sessionId: session.id,
      });
      return session;
    },
    changes: async (input, ctx) => {
      const changes = await s.sessions.changes(input.executionId, input.nodeId);
      await audit.record(
        ctx,
        "session.changes",
        { project: ctx.grant.project, ...input, sessionId: changes.sessionId },
        { bytes: Buffer.byteLength(changes.patch) },
      );
      return changes;
    },
    access: (input) => shares.access(input.sessionId),
    share: async (input, ctx) => {
      const share = await shares.share(
        input.sessionId,
        input.user,
        input.expiresAt,
        ctx.principal.userId,
      );
      await audit.record(ctx, "session.share", await sessionRefs(s.db, input.sessionId), {
        userId: share.user.id,
        expiresAt: share.expiresAt,
      });
      return share;
    },
    revokeShare: async (input, ctx) => {
      const share = await shares.revoke(input.sessionId, input.user);
      await audit.record(ctx, "session.revoke_share", await sessionRefs(s.db, input.sessionId), {
        userId: share.user.id,
      });
      return share;
    },
  };
}

export function relayHandlers(s: HandlerServices): AppHandlers["relay"] {
  const { audit, shares, connections } = s.identity;
  return {
    authorizeTunnel: (input) => s.sessions.authorizeTunnel(input.sessionId, input.agentToken),
    redeemTicket: async (input) => {
      const redeemed = await s.sessions.redeemTicket(input.sessionId, input.ticket);
      // A share revoked, or a role lost, since the ticket was issued: the ticket no longer opens the IDE.
      const user = await s.identity.users.byId(redeemed.userId);
      await s.identity.checker.authorize(
        {
          kind: "user",
          userId: redeemed.userId,
          instanceAdmin: user?.instance_admin ?? false,
          via: "session",
        },
        "opener@session",
        { sessionId: redeemed.sessionId },
      );
      await s.sessions.opened(redeemed.sessionId);
      await shares.opened(redeemed.sessionId, redeemed.userId);
      // The browser that presented the ticket, as the relay saw it: who opened the IDE, from where.
      await audit.record(
        { principal: { kind: "user", userId: redeemed.userId }, client: input.client ?? {} },
        "ide_ticket.redeem",
        await sessionRefs(s.db, redeemed.sessionId),
      );
      return redeemed;
    },
    sessionReady: async (input) => {
      await s.sessions.markReady(input.sessionId);
      return ok;
    },
    accessEvents: (_input, _ctx, signal) => shares.accessEvents(signal),
    reportConnections: async (input) => {
      await connections.report(input);
      return ok;
    },
  };
}
