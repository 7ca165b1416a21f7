/**
 * Signing people in: one-time codes and OpenID Connect both end in a console session (an HttpOnly cookie
 * naming a server-side row) or, for the CLI, an API key. The OpenID routes (`oidc.ts`) use this service.
 */
import type { UserRef } from "@drydock/contracts";
import type { ClientInfo } from "@drydock/contracts/router";
import type { FastifyReply, FastifyRequest } from "fastify";

import type { Db } from "../db/database.js";
import type { OidcConfig } from "../env.js";
import type { ApiKeys } from "./api-keys.js";
import type { AuditLog } from "./audit-log.js";
import type { OidcIdentity } from "./oidc.js";
import type { UserStore } from "./users.js";
import { newUserId } from "./users.js";
import type { WebSessions } from "./web-sessions.js";
import { WEB_SESSION_SECONDS } from "./web-sessions.js";

/** The console's cookie (host-only; the relay's IDE cookie lives on each session's own origin). */
export const CONSOLE_COOKIE = "drydock_console";

/** Sets the console's session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, for the whole site. */
export function setSessionCookie(reply: FastifyReply, value: string, request: FastifyRequest) {
  return reply.setCookie(CONSOLE_COOKIE, value, {
    httpOnly: true,
    sameSite: "lax",
    secure: request.protocol === "https",
    path: "/",
    maxAge: WEB_SESSION_SECONDS,
  });
}

export class SignInService {
  readonly setSessionCookie = setSessionCookie;

  constructor(
    private readonly deps: {
      db: Db;
      users: UserStore;
      webSessions: WebSessions;
      apiKeys: ApiKeys;
      audit: AuditLog;
      oidc: OidcConfig | undefined;
    },
  ) {}

  /**
   * The user an OpenID sign-in is: the one linked to this issuer and subject; else a person added by this
   * (verified) email, now linked; else someone new. An email in the admin list makes them an instance admin.
   */
  async userFromOidc(claims: OidcIdentity, client: ClientInfo): Promise<UserRef> {
    const { db } = this.deps;
    const email = claims.emailVerified && claims.email ? claims.email.toLowerCase() : undefined;
    const admin = email !== undefined && (this.deps.oidc?.adminEmails ?? []).includes(email);
    const name = claims.name?.trim() || email || claims.subject;
    const linked = await db
      .selectFrom("users")
      .select(["id"])
      .where("oidc_issuer", "=", claims.issuer)
      .where("oidc_subject", "=", claims.subject)
      .executeTakeFirst();
    const pending =
      linked ??
      (email
        ? await db
            .selectFrom("users")
            .select("id")
            .where("email", "=", email)
            .where("oidc_issuer", "is", null)
            .executeTakeFirst()
        : undefined);
    const id = pending?.id ?? newUserId();
    if (pending) {
      await db
        .updateTable("users")
        .set((eb) => ({
          // A provider that gives no name keeps the one the person has.
          name: claims.name?.trim() ? claims.name.trim() : eb.ref("name"),
          oidc_issuer: claims.issuer,
          oidc_subject: claims.subject,
          instance_admin: admin ? true : eb.ref("instance_admin"),
          last_sign_in_at: new Date(),
        }))
        .where("id", "=", id)
        .execute();
    } else {
      await db
        .insertInto("users")
        .values({
          id,
          name,
          email: email ?? null,
          oidc_issuer: claims.issuer,
          oidc_subject: claims.subject,
          instance_admin: admin,
          last_sign_in_at: new Date(),
        })
        .execute();
    }
    const principal = {
      kind: "user" as const,
      userId: id,
      instanceAdmin: admin,
      via: "session" as const,
    };
    await this.deps.audit.record({ principal, client }, "auth.sign_in", {}, { method: "oidc" });
    const user = await this.deps.users.byId(id);
    return { id, name: user?.name ?? name };
  }

  /** A console session for `userId`: the cookie's value and when it ends. */
  startWebSession(
    userId: string,
    client: ClientInfo,
  ): Promise<{ cookie: string; expiresAt: Date }> {
    return this.deps.webSessions.start(userId, client);
  }

  /** An API key for the CLI (`drydock login`), ceiling admin; its secret, shown once. */
  async issueCliKey(userId: string, name: string, client: ClientInfo): Promise<string> {
    const user = await this.deps.users.byId(userId);
    const created = await this.deps.apiKeys.create(userId, { name, ceiling: "admin" });
    const principal = {
      kind: "user" as const,
      userId,
      instanceAdmin: user?.instance_admin ?? false,
      via: "session" as const,
    };
    await this.deps.audit.record(
      { principal, client },
      "api_key.create",
      {},
      { keyId: created.key.id, name, ceiling: "admin", for: "drydock login" },
    );
    return created.secret;
  }
}
