import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";

import { createIdeRouter, ideProcedures } from "./ide.js";
import type { IdeHandlers, IdeStatus } from "./ide.js";

const status: IdeStatus = {
  state: "open",
  maxIdleSeconds: 60,
  limit: "idle",
  resumeRequested: false,
};
const handlers: IdeHandlers = {
  context: async () => ({
    execution: { id: "x1", workflow: "wf", version: "v1" },
    node: { id: "n0", task: "echo" },
    attempt: { id: "x1.n0.a1", number: 1 },
    inputs: {},
    upstream: [],
    entry: "task.ts",
  }),
  status: async () => status,
  keepAlive: async () => status,
  resume: async () => ({ accepted: true, message: "resuming" }),
  changes: async () => ({ patch: "", files: [] }),
};

const router = createIdeRouter(handlers);
const callerFor = (authorized: boolean) => router.createCaller({ authorized });

describe("createIdeRouter", () => {
  it.each(Object.keys(ideProcedures) as (keyof typeof ideProcedures)[])(
    "serves %s to the holder of the control token only",
    async (name) => {
      await expect(callerFor(true)[name]()).resolves.toEqual(
        await handlers[name](undefined, { authorized: true }),
      );
      const refused = callerFor(false)[name]();
      await expect(refused).rejects.toThrow(TRPCError);
      await expect(refused).rejects.toMatchObject({
        code: "UNAUTHORIZED",
        message: "the session's control token is required (DRYDOCK_CONTROL_TOKEN)",
      });
    },
  );
});
