/**
 * Who is signed in and the projects they may see, known once the shell has loaded them and read by any
 * component that gates an action on a role. Kept apart from `api.ts`, so panes rendered in tests get an
 * identity without a server.
 */
import { createContext, useContext } from "react";

import type { Me, ProjectWithRole, Role } from "../ui/types.js";
import { effectiveRole, roleGate } from "./roles.js";
import type { Gate } from "./roles.js";

export interface Identity {
  me: Me;
  projects: readonly ProjectWithRole[];
}

export const IdentityContext = createContext<Identity | undefined>(undefined);

/** Me and my projects; undefined outside the signed-in shell. */
export function useIdentity(): Identity | undefined {
  return useContext(IdentityContext);
}

export function useMe(): Me | undefined {
  return useContext(IdentityContext)?.me;
}

/** My role in `project` (undefined: no member). */
export function useRole(project: string): Role | undefined {
  return effectiveRole(useMe(), project);
}

/** Whether I have `wanted` in `project`, and the tooltip when not. */
export function useRoleGate(project: string, wanted: Role): Gate {
  return roleGate(useMe(), project, wanted);
}
