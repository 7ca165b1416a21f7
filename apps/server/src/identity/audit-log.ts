/**
 * The audit log: who did what, when, from where, on which project, execution, node and session. Entries are
 * only ever appended (the database refuses UPDATE, DELETE and TRUNCATE on the table); the API reads them.
 */
import type { AuditAction, AuditEntry } from "@drydock/contracts";
import type { ClientInfo, Principal } from "@drydock/contracts/router";
import type { ListAllAuditInput } from "@drydock/contracts";
import { z } from "zod";

import type { Db } from "../db/database.js";
import { isEmail } from "./users.js";

/**
 * Who acted, as a request's context says: its principal and where it came from. A user known otherwise
 * than by a credential of this request (the person an IDE ticket was issued to) has no `via`.
 */
export interface ActorContext {
  principal: Principal | { kind: "user"; userId: string; via?: undefined } | null;
  client: ClientInfo;
}

/** What an action was done to. */
export interface AuditRefs {
  project?: string | undefined;
  executionId?: string | undefined;
  nodeId?: string | undefined;
  sessionId?: string | undefined;
}

export type AuditFilter = z.output<typeof ListAllAuditInput> & { project?: string };

/** The log's columns of an actor: a user (and how they proved it), an agent, or the platform. */
function actorColumns(principal: ActorContext["principal"]) {
  if (principal?.kind === "user")
    return {
      actor_kind: "user" as const,
      actor_user_id: principal.userId,
      actor_via: principal.via ?? null,
      api_key_id: ("apiKeyId" in principal ? principal.apiKeyId : undefined) ?? null,
    };
  return {
    actor_kind: principal?.kind === "agent" ? ("agent" as const) : ("system" as const),
    actor_user_id: null,
    actor_via: null,
    api_key_id: null,
  };
}

const CredentialVia = z.enum(["session", "apiKey", "token"]);

export class AuditLog {
  constructor(private readonly db: Db) {}

  /** Appends one entry. */
  async record(
    ctx: ActorContext,
    action: AuditAction,
    refs: AuditRefs = {},
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    await this.db
      .insertInto("audit_log")
      .values({
        action,
        ...actorColumns(ctx.principal),
        project: refs.project ?? null,
        execution_id: refs.executionId ?? null,
        node_id: refs.nodeId ?? null,
        session_id: refs.sessionId ?? null,
        detail: JSON.stringify(detail),
        ip: ctx.client.ip ?? null,
        user_agent: ctx.client.userAgent ?? null,
      })
      .execute();
  }

  /** Entries matching `filter`, newest first, a page at a time (`before` is the previous page's `nextBefore`). */
  async list(filter: AuditFilter): Promise<{ entries: AuditEntry[]; nextBefore?: string }> {
    let query = this.db
      .selectFrom("audit_log as a")
      .leftJoin("users as u", "u.id", "a.actor_user_id")
      .selectAll("a")
      .select("u.name as actor_name");
    if (filter.project !== undefined) query = query.where("a.project", "=", filter.project);
    if (filter.since) query = query.where("a.at", ">=", new Date(filter.since));
    if (filter.until) query = query.where("a.at", "<", new Date(filter.until));
    if (filter.actions && filter.actions.length > 0)
      query = query.where("a.action", "in", filter.actions);
    if (filter.executionId) query = query.where("a.execution_id", "=", filter.executionId);
    if (filter.before) query = query.where("a.id", "<", filter.before);
    if (filter.actor) {
      const actor = filter.actor.trim();
      query = isEmail(actor)
        ? query.where("u.email", "=", actor.toLowerCase())
        : query.where("a.actor_user_id", "=", actor);
    }
    // bigserial compares as a number in SQL; one more row than asked says whether a next page exists.
    const rows = await query
      .orderBy("a.id", "desc")
      .limit(filter.limit + 1)
      .execute();
    const page = rows.slice(0, filter.limit);
    const entries = page.map((r): AuditEntry => {
      const via = CredentialVia.safeParse(r.actor_via);
      return {
        id: String(r.id),
        at: r.at.toISOString(),
        action: r.action as AuditAction,
        actor: {
          kind: r.actor_kind,
          ...(r.actor_user_id
            ? { user: { id: r.actor_user_id, name: r.actor_name ?? r.actor_user_id } }
            : {}),
          ...(via.success ? { via: via.data } : {}),
          ...(r.api_key_id ? { apiKeyId: r.api_key_id } : {}),
        },
        ...(r.project ? { project: r.project } : {}),
        ...(r.execution_id ? { executionId: r.execution_id } : {}),
        ...(r.node_id ? { nodeId: r.node_id } : {}),
        ...(r.session_id ? { sessionId: r.session_id } : {}),
        detail: r.detail,
        ...(r.ip ? { ip: r.ip } : {}),
        ...(r.user_agent ? { userAgent: r.user_agent } : {}),
      };
    });
    const last = entries.at(-1);
    return rows.length > filter.limit && last ? { entries, nextBefore: last.id } : { entries };
  }
}
