/**
 * Decides every project access the router declares (`editor@execution`, `opener@session`, …): finds the
 * project the input names, the caller's effective role there, and refuses by name what is missing.
 */
import type { Role } from "@drydock/contracts";
import { lowerRole, roleAtLeast } from "@drydock/contracts";
import type {
  AccessChecker,
  ProjectAccess,
  ProjectGrant,
  ProjectScope,
  UserPrincipal,
} from "@drydock/contracts/router";
import { sql } from "kysely";

import type { Db } from "../db/database.js";
import { ServerErrors } from "../errors.js";

/** What the project was found through, for the handlers and the refusals. */
interface ResolvedProject {
  project: string;
  /** For a session: who launched its execution, and whether it is still live. */
  session?: { createdBy: string | null; live: boolean };
}

const field = (input: unknown, name: string): string | undefined => {
  const value = (input as Record<string, unknown> | null | undefined)?.[name];
  return typeof value === "string" ? value : undefined;
};

/** The caller's role in a project: their membership's (admin for an instance admin), under a key's ceiling. */
export async function effectiveRole(
  db: Db,
  principal: UserPrincipal,
  project: string,
): Promise<Role | undefined> {
  if (principal.onlyProject !== undefined && principal.onlyProject !== project) return undefined;
  const member = await db
    .selectFrom("project_members")
    .select("role")
    .where("project", "=", project)
    .where("user_id", "=", principal.userId)
    .executeTakeFirst();
  const base: Role | undefined = principal.instanceAdmin ? "admin" : member?.role;
  return principal.ceiling ? lowerRole(base, principal.ceiling) : base;
}

export class ProjectAccessChecker implements AccessChecker {
  constructor(private readonly db: Db) {}

  async authorize(
    principal: UserPrincipal,
    access: ProjectAccess,
    input: unknown,
  ): Promise<ProjectGrant> {
    const [wanted, scope] = access.split("@") as [Role | "opener" | "owner", ProjectScope];
    const resolved = await this.resolve(scope, input);
    const { project } = resolved;
    if (principal.onlyProject !== undefined && principal.onlyProject !== project)
      throw ServerErrors.keyLimitedToProject(principal.onlyProject, project);
    const role = await effectiveRole(this.db, principal, project);
    if (wanted === "opener")
      return this.opener(principal, resolved, role, field(input, "sessionId"));
    if (wanted === "owner") return this.owner(principal, resolved, role);
    if (!roleAtLeast(role, wanted)) throw refusal(wanted, project, role, principal);
    return { project, role: role as Role };
  }

  /** May open the session's IDE: an editor of its project, or a teammate it is shared with (while live). */
  private async opener(
    principal: UserPrincipal,
    resolved: ResolvedProject,
    role: Role | undefined,
    sessionId: string | undefined,
  ): Promise<ProjectGrant> {
    const { project } = resolved;
    if (roleAtLeast(role, "editor")) return { project, role: role as Role };
    if (sessionId && resolved.session?.live && (await this.hasShare(sessionId, principal.userId)))
      return { project, role: "shared" };
    throw ServerErrors.roleRefused(
      `${describeNeed("editor", project, role, principal)}, or the session shared with you`,
    );
  }

  /** May share the session: who launched its execution (still an editor), or an admin of its project. */
  private owner(
    principal: UserPrincipal,
    resolved: ResolvedProject,
    role: Role | undefined,
  ): ProjectGrant {
    const { project } = resolved;
    const isOwner = resolved.session?.createdBy === principal.userId;
    if (roleAtLeast(role, "admin") || (isOwner && roleAtLeast(role, "editor")))
      return { project, role: role as Role };
    throw ServerErrors.roleRefused(
      isOwner
        ? describeNeed("editor", project, role, principal)
        : `only who launched the execution, or an admin of project ${project}, may share its session (you are ${describeRole(role, principal)})`,
    );
  }

  private async hasShare(sessionId: string, userId: string): Promise<boolean> {
    const share = await this.db
      .selectFrom("session_shares")
      .select("id")
      .where("session_id", "=", sessionId)
      .where("user_id", "=", userId)
      .where("revoked_at", "is", null)
      .where(sql<boolean>`expires_at > now()`)
      .executeTakeFirst();
    return share !== undefined;
  }

  /** The project the input names, directly or through what it names; NOT_FOUND when that does not exist. */
  private async resolve(scope: ProjectScope, input: unknown): Promise<ResolvedProject> {
    switch (scope) {
      case "project": {
        const project = field(input, "project") ?? "";
        const row = await this.db
          .selectFrom("projects")
          .select("id")
          .where("id", "=", project)
          .executeTakeFirst();
        if (!row) throw ServerErrors.projectNotFound(project);
        return { project };
      }
      case "execution": {
        const id = field(input, "executionId") ?? field(input, "id") ?? "";
        const row = await this.db
          .selectFrom("executions")
          .select("project")
          .where("id", "=", id)
          .executeTakeFirst();
        if (!row) throw ServerErrors.executionNotFound(id);
        return { project: row.project };
      }
      case "attempt": {
        const id = field(input, "attemptId") ?? "";
        const row = await this.db
          .selectFrom("attempts")
          .innerJoin("executions", "executions.id", "attempts.execution_id")
          .select("executions.project")
          .where("attempts.id", "=", id)
          .executeTakeFirst();
        if (!row) throw ServerErrors.attemptNotFound(id);
        return { project: row.project };
      }
      case "session": {
        const id = field(input, "sessionId") ?? "";
        const row = await this.db
          .selectFrom("interactive_sessions as s")
          .innerJoin("attempts as a", "a.id", "s.attempt_id")
          .innerJoin("executions as x", "x.id", "a.execution_id")
          .select(["x.project", "x.created_by", "s.state"])
          .where("s.id", "=", id)
          .executeTakeFirst();
        if (!row) throw ServerErrors.sessionNotFound(id);
        return {
          project: row.project,
          session: { createdBy: row.created_by, live: row.state !== "ENDED" },
        };
      }
    }
  }
}

function describeRole(role: Role | undefined, principal: UserPrincipal): string {
  if (principal.ceiling && role === principal.ceiling && principal.ceiling !== "admin")
    return `${role}: your API key's ceiling`;
  return role ?? "not a member";
}

function describeNeed(
  wanted: Role,
  project: string,
  role: Role | undefined,
  principal: UserPrincipal,
): string {
  return `you need the ${wanted} role in project ${project} (you are ${describeRole(role, principal)})`;
}

function refusal(wanted: Role, project: string, role: Role | undefined, principal: UserPrincipal) {
  return ServerErrors.roleRefused(describeNeed(wanted, project, role, principal));
}
