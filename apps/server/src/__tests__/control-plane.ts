/**
 * The whole control plane over a real, migrated test PostgreSQL (the scheduler's agents scripted), for
 * tests that drive its HTTP app with `inject`: people, keys, roles, shares and the audit log.
 */
import { randomBytes } from "node:crypto";

import { ServerConfigSchema } from "../env.js";
import { assembleControlPlane } from "../control-plane.js";
import type { ControlPlane } from "../control-plane.js";
import type { Db } from "../db/database.js";
import { createLogger } from "../logger.js";
import { testDatabase } from "./postgres.js";
import { ScriptedExecutor } from "./scripted-executor.js";

export const TEST_PUBLIC_URL = "http://127.0.0.1:8484";

export interface TestControlPlane {
  plane: ControlPlane;
  db: Db;
  executor: ScriptedExecutor;
  /** The local admin's token. */
  token: string;
  relayToken: string;
  /** A tRPC call over HTTP (inject): its status and parsed body. */
  call(
    path: string,
    input: unknown,
    opts?: { kind?: "query" | "mutation"; headers?: Record<string, string> },
  ): Promise<{ status: number; body: TrpcReply }>;
  close(): Promise<void>;
}

export interface TrpcReply {
  result?: { data: unknown };
  error?: { message: string; data: { code: string; appCode?: string; httpStatus: number } };
}

export async function testControlPlane(): Promise<TestControlPlane> {
  const pg = await testDatabase();
  const executor = new ScriptedExecutor();
  // Agents that start and keep running: launched executions stay RUNNING for what the tests do to them.
  executor.behaviour = () => new Promise(() => undefined);
  const token = randomBytes(24).toString("hex");
  const relayToken = randomBytes(24).toString("hex");
  const plane = await assembleControlPlane({
    config: ServerConfigSchema.parse({
      dataDir: pg.dir,
      relayUrl: "http://127.0.0.1:8081",
      ideOrigin: "http://localhost:8081",
      logLevel: "silent",
    }),
    dataDir: pg.dir,
    db: pg.db,
    executor,
    tokens: { token, relayToken, signingSecret: randomBytes(32).toString("hex") },
    publicUrl: () => TEST_PUBLIC_URL,
    log: createLogger("silent"),
  });
  await plane.app.ready();
  return {
    plane,
    db: pg.db,
    executor,
    token,
    relayToken,
    async call(path, input, opts = {}) {
      const kind = opts.kind ?? "query";
      const encoded =
        input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
      const response = await plane.app.inject({
        method: kind === "query" ? "GET" : "POST",
        url: kind === "query" ? `/trpc/${path}${encoded}` : `/trpc/${path}`,
        headers: {
          ...(kind === "mutation" ? { "content-type": "application/json" } : {}),
          ...opts.headers,
        },
        ...(kind === "mutation" && input !== undefined ? { payload: JSON.stringify(input) } : {}),
      });
      return { status: response.statusCode, body: response.json<TrpcReply>() };
    },
    async close() {
      plane.identity.shares.stop();
      await plane.services.scheduler.stop();
      await plane.app.close();
      await pg.close();
    },
  };
}

export const bearerHeader = (token: string) => ({ authorization: `Bearer ${token}` });
