/**
 * What the signed-in person may do where, as the console shows it: buttons a role does not allow are disabled
 * with a reason, before the server refuses them (the server decides; this only spares people a refusal).
 * Free of React; from the contracts only their zod-free constants, so the shell bundles no zod.
 */
import { lowerRole, roleAtLeast, ROLES } from "@drydock/contracts/constants";

import type { Me, Role, SessionAccess, UserRef } from "../ui/types.js";

export { roleAtLeast };

/** The roles, lowest first, for role pickers. */
export const ROLE_CHOICES: readonly Role[] = ROLES;

/**
 * My role in `project`: my membership's, `admin` everywhere for an instance admin, never above an API
 * key's ceiling; undefined when I am no member.
 */
export function effectiveRole(me: Me | undefined, project: string): Role | undefined {
  if (!me) return undefined;
  const member = me.projects.find((p) => p.id === project)?.role;
  const role = me.user.instanceAdmin ? "admin" : member;
  if (role === undefined || me.ceiling === undefined) return role;
  return lowerRole(role, me.ceiling);
}

/** Whether an action is offered, and if not, the sentence its tooltip gives. */
export type Gate = { allowed: true } | { allowed: false; reason: string };

const ALLOWED: Gate = { allowed: true };

/** "Needs the editor role in project default (you are a viewer)". */
export function roleGate(me: Me | undefined, project: string, wanted: Role): Gate {
  const role = effectiveRole(me, project);
  if (roleAtLeast(role, wanted)) return ALLOWED;
  const yours = role ? `you are a ${role}` : "you are not a member";
  return { allowed: false, reason: `Needs the ${wanted} role in project ${project} (${yours})` };
}

/** A share counts from its grant until it expires or is revoked. */
export function shareIsActive(
  share: { expiresAt: string; revokedAt?: string | undefined },
  now: number,
): boolean {
  return share.revokedAt === undefined && Date.parse(share.expiresAt) > now;
}

/** Whether the session is shared with this user now. */
export function isSharedWith(
  access: SessionAccess | undefined,
  userId: string,
  now: number,
): boolean {
  return Boolean(access?.shares.some((s) => s.user.id === userId && shareIsActive(s, now)));
}

export const ASK_OWNER_TO_SHARE = "Ask the owner to share this session";

/** VSCode (User): an editor of the project, or someone the session is shared with. */
export function ideGate(
  me: Me | undefined,
  project: string,
  access: SessionAccess | undefined,
  now: number,
): Gate {
  if (roleGate(me, project, "editor").allowed) return ALLOWED;
  if (me && isSharedWith(access, me.user.id, now)) return ALLOWED;
  return { allowed: false, reason: ASK_OWNER_TO_SHARE };
}

/** Sharing and revoking: who launched the execution, or an admin of its project. */
export function shareGate(me: Me | undefined, project: string, owner: UserRef | undefined): Gate {
  if (me && owner?.id === me.user.id) return ALLOWED;
  if (roleGate(me, project, "admin").allowed) return ALLOWED;
  return {
    allowed: false,
    reason: "Only the person who launched this execution or a project admin can share it",
  };
}
