/** Projects and their members: who sees which project, with what role; the last admin stays. */
import type { Member, Project, Role } from "@drydock/contracts";
import { lowerRole, roleAtLeast } from "@drydock/contracts";
import type { UserPrincipal } from "@drydock/contracts/router";

import type { Db } from "../db/database.js";
import { ServerErrors } from "../errors.js";
import type { UserStore } from "./users.js";
import { toUser } from "./users.js";

export interface ProjectWithRole extends Project {
  role?: Role;
}

/** A member change, as the audit log and the relays need it. */
export interface MemberChange {
  userId: string;
  role: Role | null;
  previousRole: Role | null;
  /** The change took away the right to open the project's IDEs (removed, or below editor). */
  lostOpen: boolean;
}

export class ProjectService {
  constructor(private readonly deps: { db: Db; users: UserStore }) {}

  /**
   * The projects `principal` may see, with their role in each (under a key's ceiling): member projects, or
   * all for an instance admin (role absent where not a member); a project-limited key sees its project only.
   */
  async visibleTo(principal: UserPrincipal): Promise<ProjectWithRole[]> {
    const { db } = this.deps;
    let query = db
      .selectFrom("projects as p")
      .leftJoin("project_members as m", (join) =>
        join.onRef("m.project", "=", "p.id").on("m.user_id", "=", principal.userId),
      )
      .select(["p.id", "p.name", "p.created_at", "m.role"]);
    if (!principal.instanceAdmin) query = query.where("m.role", "is not", null);
    if (principal.onlyProject !== undefined)
      query = query.where("p.id", "=", principal.onlyProject);
    const rows = await query.orderBy("p.id").execute();
    return rows.map((r) => {
      const role = r.role ?? undefined;
      const effective = principal.ceiling ? lowerRole(role, principal.ceiling) : role;
      return {
        id: r.id,
        name: r.name,
        createdAt: r.created_at.toISOString(),
        ...(effective ? { role: effective } : {}),
      };
    });
  }

  /** A new project; its creator is its first admin. */
  async create(id: string, name: string, creator: string): Promise<Project> {
    return this.deps.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto("projects")
        .values({ id, name })
        .onConflict((oc) => oc.column("id").doNothing())
        .returning(["id", "name", "created_at"])
        .executeTakeFirst();
      if (!row) throw ServerErrors.projectExists(id);
      await tx
        .insertInto("project_members")
        .values({ project: id, user_id: creator, role: "admin" })
        .execute();
      return { id: row.id, name: row.name, createdAt: row.created_at.toISOString() };
    });
  }

  async members(project: string): Promise<Member[]> {
    const rows = await this.deps.db
      .selectFrom("project_members as m")
      .innerJoin("users as u", "u.id", "m.user_id")
      .selectAll("u")
      .select(["m.role", "m.added_at"])
      .where("m.project", "=", project)
      .orderBy("m.added_at")
      .execute();
    return rows.map((r) => ({ user: toUser(r), role: r.role, addedAt: r.added_at.toISOString() }));
  }

  /**
   * Gives `userRef` (id or email; an unknown email adds a pending person) `role` in the project, or removes
   * them (`null`). Under the project's row lock, so two admins demoting each other cannot leave none.
   */
  async setMember(project: string, userRef: string, role: Role | null): Promise<MemberChange> {
    const user =
      role === null
        ? await this.deps.users.require(userRef)
        : await this.deps.users.findOrAddByEmail(userRef);
    return this.deps.db.transaction().execute(async (tx) => {
      await tx.selectFrom("projects").select("id").where("id", "=", project).forUpdate().execute();
      const members = await tx
        .selectFrom("project_members")
        .select(["user_id", "role"])
        .where("project", "=", project)
        .execute();
      const previousRole = members.find((m) => m.user_id === user.id)?.role ?? null;
      const adminsAfter = members.filter(
        (m) => m.role === "admin" && (m.user_id !== user.id || role === "admin"),
      ).length;
      if (previousRole === "admin" && adminsAfter === 0) throw ServerErrors.lastAdmin(project);
      if (role === null) {
        await tx
          .deleteFrom("project_members")
          .where("project", "=", project)
          .where("user_id", "=", user.id)
          .execute();
      } else {
        await tx
          .insertInto("project_members")
          .values({ project, user_id: user.id, role })
          .onConflict((oc) => oc.columns(["project", "user_id"]).doUpdateSet({ role }))
          .execute();
      }
      const couldOpen = roleAtLeast(previousRole ?? undefined, "editor");
      const canOpen = roleAtLeast(role ?? undefined, "editor");
      return { userId: user.id, role, previousRole, lostOpen: couldOpen && !canOpen };
    });
  }
}
