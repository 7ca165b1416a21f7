/** The handlers of people, sign-in, API keys, projects and the audit log. */
import type { DevicePollSchema, DeviceStartSchema, Role } from "@drydock/contracts";
import { lowerRole } from "@drydock/contracts";
import type { AppHandlers, ClientInfo, UserContext } from "@drydock/contracts/router";
import type { z } from "zod";

import { ServerErrors } from "../errors.js";
import type { IdentityServices } from "../identity/services.js";
import { toUser } from "../identity/users.js";

/** `drydock login`'s device flow through the OpenID provider (`identity/oidc-device.ts`). */
export interface DeviceLoginPort {
  start(client: ClientInfo): Promise<z.input<typeof DeviceStartSchema>>;
  poll(handle: string, client: ClientInfo): Promise<z.input<typeof DevicePollSchema>>;
}

export interface IdentityHandlerDeps {
  identity: IdentityServices;
  deviceLogin: DeviceLoginPort;
  /** The OpenID provider's name for the sign-in button; absent without a provider. */
  oidcName: string | undefined;
  /** This server's base URL, for sign-in links. */
  publicUrl: () => string;
}

/** An API key may not mint what reaches further than itself: a code for the console, or a wider key. */
function refuseWidening(
  ctx: UserContext,
  what: string,
  wanted?: { ceiling: Role; project?: string },
) {
  const { ceiling, onlyProject, via } = ctx.principal;
  if (via !== "apiKey") return;
  if (!wanted) {
    if (ceiling !== "admin" || onlyProject !== undefined)
      throw ServerErrors.keyCannotWiden(
        `${what}: its ceiling is ${ceiling ?? "admin"}${onlyProject ? ` and it is limited to project ${onlyProject}` : ""}`,
      );
    return;
  }
  if (lowerRole(wanted.ceiling, ceiling) !== wanted.ceiling)
    throw ServerErrors.keyCannotWiden(
      `${what} with the ${wanted.ceiling} ceiling (its own is ${ceiling ?? "admin"})`,
    );
  if (onlyProject !== undefined && wanted.project !== onlyProject)
    throw ServerErrors.keyCannotWiden(
      `${what} beyond project ${onlyProject}, the one it is limited to`,
    );
}

export function authHandlers(d: IdentityHandlerDeps): AppHandlers["auth"] {
  const { identity } = d;
  return {
    methods: () => ({
      ...(d.oidcName ? { oidc: { name: d.oidcName } } : {}),
      signInCode: true,
    }),
    me: async (_input, ctx) => {
      const { principal } = ctx;
      const user = await identity.users.byId(principal.userId);
      if (!user) throw ServerErrors.userNotFound(principal.userId);
      const projects = await identity.projects.visibleTo(principal);
      const adminRole = principal.ceiling ? lowerRole("admin", principal.ceiling) : "admin";
      return {
        user: toUser(user),
        via: principal.via,
        ...(principal.ceiling ? { ceiling: principal.ceiling } : {}),
        projects: projects.flatMap((p) => {
          const role = principal.instanceAdmin ? adminRole : p.role;
          return role ? [{ id: p.id, name: p.name, role }] : [];
        }),
      };
    },
    signInCode: async (_input, ctx) => {
      refuseWidening(ctx, "sign in to the console");
      const { code, expiresAt } = await identity.codes.issue(ctx.principal.userId);
      await identity.audit.record(
        ctx,
        "auth.sign_in_code",
        {},
        { expiresAt: expiresAt.toISOString() },
      );
      const url = new URL("/auth/sign-in", d.publicUrl());
      url.searchParams.set("code", code);
      return { url: url.toString(), expiresAt: expiresAt.toISOString() };
    },
    deviceStart: (_input, ctx) => d.deviceLogin.start(ctx.client),
    devicePoll: (input, ctx) => d.deviceLogin.poll(input.handle, ctx.client),
  };
}

export function userHandlers(identity: IdentityServices): AppHandlers["users"] {
  return { list: () => identity.users.list() };
}

export function apiKeyHandlers(identity: IdentityServices): AppHandlers["apiKeys"] {
  const { apiKeys, audit } = identity;
  return {
    create: async (input, ctx) => {
      refuseWidening(ctx, "create a key", input);
      if (input.project !== undefined)
        await identity.checker.authorize(ctx.principal, "viewer@project", input);
      const created = await apiKeys.create(ctx.principal.userId, input);
      await audit.record(
        ctx,
        "api_key.create",
        { project: input.project },
        { keyId: created.key.id, name: input.name, ceiling: input.ceiling },
      );
      return created;
    },
    list: (_input, ctx) => apiKeys.listOf(ctx.principal.userId),
    revoke: async (input, ctx) => {
      const key = await apiKeys.revoke(input.id, { owner: ctx.principal.userId });
      await audit.record(
        ctx,
        "api_key.revoke",
        { project: key.project },
        { keyId: key.id, name: key.name },
      );
      return key;
    },
    listProject: (input) => apiKeys.listOfProject(input.project),
    revokeProject: async (input, ctx) => {
      const key = await apiKeys.revoke(input.id, { project: input.project });
      await audit.record(
        ctx,
        "api_key.revoke",
        { project: key.project },
        { keyId: key.id, name: key.name },
      );
      return key;
    },
  };
}

export function projectHandlers(identity: IdentityServices): AppHandlers["projects"] {
  const { projects, audit, shares } = identity;
  return {
    list: (_input, ctx) => projects.visibleTo(ctx.principal),
    create: async (input, ctx) => {
      const project = await projects.create(input.id, input.name, ctx.principal.userId);
      await audit.record(ctx, "project.create", { project: project.id }, { name: project.name });
      return project;
    },
    members: (input) => projects.members(input.project),
    setMember: async (input, ctx) => {
      const change = await projects.setMember(input.project, input.user, input.role);
      // Whoever may no longer open the project's IDEs loses the connections they have.
      const revokedSessions = change.lostOpen
        ? await shares.memberLostAccess(input.project, change.userId)
        : [];
      await audit.record(
        ctx,
        "project.member_set",
        { project: input.project },
        {
          userId: change.userId,
          user: input.user,
          role: change.role,
          previousRole: change.previousRole,
          ...(revokedSessions.length > 0 ? { revokedSessions } : {}),
        },
      );
      return projects.members(input.project);
    },
  };
}

export function auditHandlers(identity: IdentityServices): AppHandlers["audit"] {
  return {
    list: (input) => identity.audit.list(input),
    listAll: (input) => identity.audit.list(input),
  };
}
