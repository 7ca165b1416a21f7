/** Values the console's unit tests build their cases from. */
import type { InteractiveSession } from "../ui/types.js";

/** A fixed instant, far from the test machine's clock. */
export const T = "2030-01-01T00:00:00.000Z";

/** A STARTING session of attempt x1.n0.a1, with `extra` over it. */
export const testSession = (extra: Partial<InteractiveSession> = {}): InteractiveSession => ({
  id: "s1abc",
  attemptId: "x1.n0.a1",
  state: "STARTING",
  maxIdleSeconds: 300,
  extensionProblems: [],
  hasChanges: false,
  createdAt: T,
  ...extra,
});
