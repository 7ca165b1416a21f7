/** Values the console's unit tests build their cases from. */
import { createElement } from "react";
import type { ReactElement } from "react";

import { IdentityContext } from "../identity/identity-context.js";
import type { InteractiveSession, Me, Role } from "../ui/types.js";

/** A fixed instant, far from the test machine's clock. */
export const T = "2030-01-01T00:00:00.000Z";

/** A STARTING session of attempt x1.n0.a1, with `extra` over it. */
export const testSession = (extra: Partial<InteractiveSession> = {}): InteractiveSession => ({
  id: "s1abc",
  attemptId: "x1.n0.a1",
  state: "STARTING",
  maxIdleSeconds: 300,
  maxUnopenedSeconds: 75,
  limit: "idle",
  extensionProblems: [],
  hasChanges: false,
  createdAt: T,
  ...extra,
});

/** Ada, signed in with a session, with `roles` by project (none: a member of no project). */
export const testMe = (roles: Record<string, Role> = {}, extra: Partial<Me["user"]> = {}): Me => ({
  user: { id: "u-ada", name: "Ada", instanceAdmin: false, createdAt: T, ...extra },
  via: "session",
  projects: Object.entries(roles).map(([id, role]) => ({ id, name: id, role })),
});

/** `element` rendered inside the signed-in shell's identity, as the panes find it in the console. */
export function withIdentity(me: Me, element: ReactElement): ReactElement {
  const projects = me.projects.map((p) => ({ id: p.id, name: p.name, createdAt: T, role: p.role }));
  return createElement(IdentityContext.Provider, { value: { me, projects } }, element);
}
