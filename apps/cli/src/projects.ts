/** `drydock projects …` and `drydock members …`: where work lives, and who may do what there. */
import { RoleSchema } from "@drydock/contracts";
import type { Member, ProjectWithRoleSchema, Role } from "@drydock/contracts";
import type { z } from "zod";

import { outputFormat, printAnswer, withApi } from "./commands.js";
import type { ConnectionFlags } from "./context.js";
import { checkProject, contextFile, readSavedContext, saveContext } from "./context.js";
import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";
import { formatTable, printResult } from "./output.js";

type Flags = ConnectionFlags & { output?: string };
type ProjectWithRole = z.infer<typeof ProjectWithRoleSchema>;

function formatProjects(projects: ProjectWithRole[], current: string): string {
  if (projects.length === 0) return "no projects you may see (an admin adds you to one)";
  return formatTable([
    ["", "PROJECT", "NAME", "ROLE", "CREATED"],
    ...projects.map((p) => [
      p.id === current ? "*" : "",
      p.id,
      p.name,
      p.role ?? "(instance admin)",
      p.createdAt,
    ]),
  ]);
}

/** `drydock projects list`: the projects I may see, my role in each, the one commands act in starred. */
export async function listProjectsCommand(env: CliEnv, flags: Flags): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api, conn) => {
    const projects = await api.projects.list.query();
    printResult(format === "json" ? projects : formatProjects(projects, conn.project), format);
  });
}

/** `drydock projects create <id> <name>` (instance admins). */
export async function createProjectCommand(
  env: CliEnv,
  id: string,
  name: string,
  flags: Flags,
): Promise<void> {
  checkProject(id, "the project id");
  if (name.trim() === "") throw new CliError("the project's name is empty");
  await printAnswer(
    env,
    flags,
    (api) => api.projects.create.mutate({ id, name }),
    (p) => `created project ${p.id} (${p.name}); \`drydock projects use ${p.id}\` acts in it`,
  );
}

/** `drydock projects use <id>`: saves the project later commands act in, after checking I may see it. */
export async function useProjectCommand(env: CliEnv, id: string, flags: Flags): Promise<void> {
  checkProject(id, "the project id");
  const saved = await readSavedContext(env);
  await withApi(env, flags, async (api, conn) => {
    if (!saved || saved.endpoint !== conn.endpoint || saved.token !== conn.token)
      throw new CliError(
        `there is no saved sign-in for ${conn.endpoint} to keep a default project with: \`drydock login\` first, or set DRYDOCK_PROJECT`,
      );
    const projects = await api.projects.list.query();
    const project = projects.find((p) => p.id === id);
    if (!project)
      throw new CliError(
        `no project "${id}" among those you may see (${projects.map((p) => p.id).join(", ") || "none"})`,
        1,
      );
    await saveContext(env, { ...saved, project: id });
    printResult(
      `commands now act in project ${id} (${project.name}); saved in ${contextFile(env)}`,
      "text",
    );
  });
}

function formatMembers(project: string, members: Member[]): string {
  if (members.length === 0) return `project ${project} has no members`;
  return formatTable([
    ["USER", "NAME", "EMAIL", "ROLE", "ADDED"],
    ...members.map((m) => [m.user.id, m.user.name, m.user.email ?? "", m.role, m.addedAt]),
  ]);
}

/** `drydock members list` (project admins). */
export async function listMembersCommand(env: CliEnv, flags: Flags): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api, conn) => {
    const members = await api.projects.members.query({ project: conn.project });
    printResult(format === "json" ? members : formatMembers(conn.project, members), format);
  });
}

/** A role as typed on the command line, or a usage error listing the roles. */
export function parseRole(value: string, what: string): Role {
  const role = RoleSchema.safeParse(value.trim().toLowerCase());
  if (!role.success)
    throw new CliError(`${what} must be one of ${RoleSchema.options.join(", ")}, not "${value}"`);
  return role.data;
}

/** `drydock members set <user> <role>` and `drydock members remove <user>` (role null). */
export async function setMemberCommand(
  env: CliEnv,
  user: string,
  role: string | null,
  flags: Flags,
): Promise<void> {
  if (user.trim() === "") throw new CliError("the user (an id or an email address) is empty");
  const wanted = role === null ? null : parseRole(role, "the role");
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api, conn) => {
    const members = await api.projects.setMember.mutate({
      project: conn.project,
      user,
      role: wanted,
    });
    if (format === "json") return printResult(members, "json");
    printResult(
      `${wanted === null ? `removed ${user} from` : `${user} is ${wanted} in`} project ${conn.project}\n\n${formatMembers(conn.project, members)}`,
      "text",
    );
  });
}
