import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createHash, randomBytes } from "node:crypto";

import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, createWSClient, httpLink, wsLink } from "@trpc/client";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";

import { Authenticator } from "./auth.js";
import { BlobUrlSigner } from "./blobs/signing.js";
import { createDatabase } from "./db/database.js";
import { startEmbeddedPostgres } from "./db/postgres.js";
import type { RunningPostgres } from "./db/postgres.js";
import { readServerConfig } from "./env.js";
import { createLogger } from "./logger.js";
import { refuseUnisolatedTeams, startServer } from "./server.js";
import { hashToken } from "./services/agent-token.js";
import { linkBusThroughPostgres } from "./services/bus-link.js";
import { EventBus } from "./services/event-bus.js";

let dir: string;
let external: RunningPostgres | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-server-test-"));
  await chmod(dir, 0o755);
  external = await startEmbeddedPostgres(join(dir, "external"), createLogger("silent"));
});
afterAll(async () => {
  await external?.stop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A database of its own in the shared cluster, for a test's server: its scheduler must not see other tests' rows.
 */
async function databaseOfItsOwn(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: external?.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} OWNER drydock`);
  await admin.end();
  return (external?.url ?? "").replace(/\/drydock$/, `/${name}`);
}

/** A relay as agents and browsers would reach it (nothing listens there: the tests only read the links). */
const RELAY = { relayUrl: "http://127.0.0.1:8081", ideOrigin: "http://localhost:8081" } as const;

/** A server on a database and data directory of its own, listening on a free port, with `config` on top. */
async function serverOfItsOwn(
  name: string,
  config: Partial<Parameters<typeof startServer>[0]> = {},
) {
  const databaseUrl = await databaseOfItsOwn(name);
  const dataDir = join(dir, `${name}-data`);
  const server = await startServer({
    databaseUrl,
    dataDir,
    port: 0,
    logLevel: "silent",
    ...config,
  });
  return { server, databaseUrl, dataDir };
}

describe("startServer", () => {
  it("uses DRYDOCK_DATABASE_URL instead of an embedded PostgreSQL, and keeps its token across restarts", async () => {
    const dataDir = join(dir, "data");
    const url = external?.url ?? "";
    const config = readServerConfig({
      DRYDOCK_DATABASE_URL: url,
      DRYDOCK_DATA_DIR: dataDir,
      DRYDOCK_PORT: "0",
      DRYDOCK_LOG_LEVEL: "silent",
    });
    const first = await startServer(config);
    const api = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `${first.url}/trpc`, headers: { authorization: `Bearer ${first.token}` } }),
      ],
    });
    expect((await api.projects.list.query()).map((p) => p.id)).toEqual(["default"]);
    await first.close();
    expect(existsSync(join(dataDir, "pg"))).toBe(false);

    const second = await startServer(config);
    expect(second.token).toBe(first.token);
    expect(second.relayToken).toBe(first.relayToken);
    expect(second.relayToken).not.toBe(second.token);
    expect(second.consoleUrl).toBe(second.url);
    await second.close();
  });

  it("holds its data directory: a second server on it is refused, naming the directory and the pid, and the first keeps answering", async () => {
    const dataDir = join(dir, "locked");
    const config = readServerConfig({
      DRYDOCK_DATABASE_URL: external?.url,
      DRYDOCK_DATA_DIR: dataDir,
      DRYDOCK_PORT: "0",
      DRYDOCK_LOG_LEVEL: "silent",
    });
    const first = await startServer(config);
    try {
      await expect(startServer(config)).rejects.toThrow(
        `the data directory ${dataDir} is in use by the Drydock server with pid ${process.pid}`,
      );
      const api = createTRPCClient<AppRouter>({
        links: [
          httpLink({
            url: `${first.url}/trpc`,
            headers: { authorization: `Bearer ${first.token}` },
          }),
        ],
      });
      expect((await api.projects.list.query()).map((p) => p.id)).toEqual(["default"]);
    } finally {
      await first.close();
    }
    expect(existsSync(join(dataDir, "server.pid"))).toBe(false);
  });

  it("says which directory the embedded PostgreSQL cannot reach", async () => {
    const closed = join(dir, "closed");
    await mkdir(closed, { mode: 0o700 });
    await chmod(closed, 0o700);
    const config = readServerConfig({
      DRYDOCK_DATA_DIR: join(closed, "data"),
      DRYDOCK_PORT: "0",
      DRYDOCK_LOG_LEVEL: "silent",
    });
    await expect(startServer(config)).rejects.toThrow(`cannot enter ${closed} (mode 700)`);
  });

  it("refuses configuration it cannot use, naming the setting", () => {
    expect(() => readServerConfig({ DRYDOCK_PORT: "eighty" })).toThrow(/port/);
    expect(() => readServerConfig({ DRYDOCK_DATABASE_URL: "not a url" })).toThrow(/databaseUrl/);
    expect(() => readServerConfig({ DRYDOCK_EVENTS: "redis" })).toThrow(/events/);
    expect(readServerConfig({}).events).toBe("local");
    expect(() => readServerConfig({ DRYDOCK_RELAY_URL: "ftp://relay.example" })).toThrow(
      /relayUrl/,
    );
    for (const origin of [
      "http://localhost:8081/ide",
      "http://127.0.0.1:8081",
      "ws://localhost:8081",
      "http://localhost:8081/?x=1",
    ]) {
      expect(() => readServerConfig({ DRYDOCK_IDE_ORIGIN: origin }), origin).toThrow(/ideOrigin/);
    }
    expect(
      () => new Authenticator({} as never, "same-token-for-both", "same-token-for-both"),
    ).toThrow(/relay token .* must differ/);
  });

  it("reads the relay's settings from the environment, normalising the IDE origin", () => {
    const config = readServerConfig({
      DRYDOCK_RELAY_TOKEN: "relay-token-0123456789",
      DRYDOCK_RELAY_URL: "http://127.0.0.1:8081",
      DRYDOCK_IDE_ORIGIN: "HTTP://LocalHost:8081/",
    });
    expect(config).toMatchObject({
      relayToken: "relay-token-0123456789",
      relayUrl: "http://127.0.0.1:8081",
      ideOrigin: "http://localhost:8081",
    });
    expect(readServerConfig({})).toMatchObject({
      relayToken: undefined,
      relayUrl: undefined,
      ideOrigin: undefined,
    });
  });

  it("with DRYDOCK_EVENTS=postgres, its watchers hear what another replica on the same database publishes", async () => {
    const { server, databaseUrl } = await serverOfItsOwn("replica_events", { events: "postgres" });
    // The other replica: its bus, linked through the same database.
    const other = new EventBus();
    const link = await linkBusThroughPostgres(other, {
      url: databaseUrl,
      log: createLogger("silent"),
    });
    const db = createDatabase(databaseUrl);
    const ws = createWSClient({
      url: `${server.url.replace(/^http/, "ws")}/trpc`,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      connectionParams: { token: server.token },
    });
    const api = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws })] });
    const heard: string[] = [];
    const watching = api.executions.watchList.subscribe(
      { project: "default" },
      { onData: ({ execution }) => heard.push(`${execution.id} ${execution.status}`) },
    );
    try {
      // An execution the other replica ran (the row is what its watchers read; no scheduler of this server's).
      await db
        .insertInto("executions")
        .values({
          id: "xother",
          project: "default",
          workflow: "wf",
          version: "v1",
          status: "SUCCEEDED",
          inputs: "{}",
        })
        .execute();
      // Until the subscription is in place, a publication finds no watcher: publish until heard.
      await vi.waitFor(
        () => {
          other.publishListChange("default", "xother");
          expect(heard).toContain("xother SUCCEEDED");
        },
        { timeout: 10_000, interval: 200 },
      );
    } finally {
      watching.unsubscribe();
      await ws.close();
      await link.close();
      await db.destroy();
      await server.close();
    }
    // Closed, the server listens no more.
    const check = createDatabase(databaseUrl);
    const listening = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = 'replica_events' AND query LIKE 'LISTEN%'`.execute(check);
    await check.destroy();
    expect(listening.rows[0]?.n).toBe("0");
  });

  it("replicas with one DRYDOCK_SHARED_DIR and DRYDOCK_SIGNING_SECRET serve each other's blobs, each joins as a replica of its own, and either names the registry", async () => {
    const signingSecret = randomBytes(32).toString("hex");
    const sharedDir = join(dir, "replicas-shared");
    const shared = {
      sharedDir,
      signingSecret,
      token: randomBytes(24).toString("hex"),
      registry: "10.77.0.11:5000",
    };
    const { server: a, databaseUrl } = await serverOfItsOwn("replicas", shared);
    const b = await startServer({
      databaseUrl,
      dataDir: join(dir, "replicas-b-data"),
      port: 0,
      logLevel: "silent",
      ...shared,
    });
    const db = createDatabase(databaseUrl);
    try {
      // A blob written through one replica, by a URL it signed, is read through the other.
      const put = new BlobUrlSigner(signingSecret, () => a.url).sign("put", "inputs/x1.json", 60);
      expect((await fetch(put, { method: "PUT", body: '{"n":1}' })).status).toBe(201);
      const get = new BlobUrlSigner(signingSecret, () => b.url).sign("get", "inputs/x1.json", 60);
      const read = await fetch(get);
      expect(read.status).toBe(200);
      expect(await read.text()).toBe('{"n":1}');
      expect(await readFile(join(sharedDir, "blobs", "inputs/x1.json"), "utf8")).toBe('{"n":1}');
      // Each joined as a replica of its own, holding its lock.
      const replicas = await db.selectFrom("server_replicas").select("id").execute();
      expect(replicas).toHaveLength(2);
      // The CLI learns where to push task images from either.
      const health = (await (await fetch(`${b.url}/trpc/health`)).json()) as {
        result: { data: { registry?: string } };
      };
      expect(health.result.data.registry).toBe("10.77.0.11:5000");
    } finally {
      await db.destroy();
      await b.close();
      await a.close();
    }
  });

  it("over tRPC, relay procedures take only the relay token and IDE tickets only a user token", async () => {
    const relayToken = randomBytes(24).toString("hex");
    const { server, databaseUrl } = await serverOfItsOwn("relay_access", { relayToken, ...RELAY });
    const db = createDatabase(databaseUrl);
    try {
      expect(server.relayToken).toBe(relayToken);
      // A running attempt and its agent token, as the scheduler hands them out.
      const agentToken = randomBytes(24).toString("base64url");
      await db
        .insertInto("executions")
        .values({
          id: "xrelay",
          project: "default",
          workflow: "wf",
          version: "v1",
          status: "RUNNING",
          inputs: "{}",
        })
        .execute();
      await db
        .insertInto("node_executions")
        .values({
          execution_id: "xrelay",
          node_id: "n0",
          task: "t",
          parent_node_id: null,
          map_index: null,
          status: "RUNNING",
          inputs: "{}",
          outputs: null,
          error: null,
          children_total: null,
          started_at: null,
          ended_at: null,
        })
        .execute();
      await db
        .insertInto("attempts")
        .values({
          id: "xrelay.n0.a1",
          execution_id: "xrelay",
          node_id: "n0",
          number: 1,
          status: "RUNNING",
          token_hash: hashToken(agentToken),
        })
        .execute();
      const client = (token: string) =>
        createTRPCClient<AppRouter>({
          links: [
            httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
          ],
        });
      const [user, agent, relay] = [
        client(server.token),
        client(agentToken),
        client(server.relayToken),
      ];
      const unauthorized = { data: { code: "UNAUTHORIZED", httpStatus: 401 } };

      const { sessionId, tunnel } = await agent.agent.openSession.mutate();
      expect(tunnel).toEqual({
        relayUrl: "http://127.0.0.1:8081",
        host: `${sessionId}.localhost:8081`,
      });
      await expect(user.agent.openSession.mutate()).rejects.toMatchObject(unauthorized);

      await expect(agent.sessions.ideTicket.mutate({ sessionId })).rejects.toMatchObject(
        unauthorized,
      );
      await expect(relay.sessions.ideTicket.mutate({ sessionId })).rejects.toMatchObject(
        unauthorized,
      );
      const { url } = await user.sessions.ideTicket.mutate({ sessionId });
      const ticket = new URL(url).searchParams.get("ticket") ?? "";

      for (const caller of [user, agent]) {
        await expect(caller.relay.redeemTicket.mutate({ sessionId, ticket })).rejects.toMatchObject(
          unauthorized,
        );
        await expect(
          caller.relay.authorizeTunnel.mutate({ sessionId, agentToken }),
        ).rejects.toMatchObject(unauthorized);
      }
      // Refused at the door, the ticket was not spent: the relay can still redeem it, once.
      expect(await relay.relay.redeemTicket.mutate({ sessionId, ticket })).toEqual({
        sessionId,
        userId: "local",
      });
      await expect(relay.relay.redeemTicket.mutate({ sessionId, ticket })).rejects.toMatchObject({
        data: { code: "FORBIDDEN", httpStatus: 403, appCode: "RELAY_TICKET_USED" },
      });
      expect(await relay.relay.authorizeTunnel.mutate({ sessionId, agentToken })).toEqual({
        sessionId,
        attemptId: "xrelay.n0.a1",
      });
      await expect(
        relay.relay.authorizeTunnel.mutate({ sessionId, agentToken: server.token }),
      ).rejects.toMatchObject({
        data: { code: "UNAUTHORIZED", appCode: "TUNNEL_TOKEN_UNKNOWN" },
      });

      // The session as users see it on the execution: STARTING without a link, READY with one once the relay
      // says the IDE answers (a user may not say so), ENDED with the agent's reason.
      const sessionOnAttempt = async () =>
        (await user.executions.get.query({ id: "xrelay" })).nodes[0]?.attempts[0]?.session;
      expect(await sessionOnAttempt()).toMatchObject({ id: sessionId, state: "STARTING" });
      expect((await sessionOnAttempt())?.link).toBeUndefined();
      await expect(user.relay.sessionReady.mutate({ sessionId })).rejects.toMatchObject(
        unauthorized,
      );
      await relay.relay.sessionReady.mutate({ sessionId });
      expect(await sessionOnAttempt()).toMatchObject({
        state: "READY",
        link: `http://${tunnel.host}/`,
      });
      await agent.agent.endSession.mutate({ reason: "idle" });
      expect(await sessionOnAttempt()).toMatchObject({ state: "ENDED", endReason: "idle" });
    } finally {
      await db.destroy();
      await server.close();
    }
  });

  it("over tRPC, the agent and the user drive an interactive session: idle deadline, keep-alive, resume, edits; debug refuses unknown ids", async () => {
    const { server, databaseUrl } = await serverOfItsOwn("interactive_api", RELAY);
    const db = createDatabase(databaseUrl);
    try {
      const agentToken = randomBytes(24).toString("base64url");
      await db
        .insertInto("executions")
        .values({
          id: "xide",
          project: "default",
          workflow: "wf",
          version: "v1",
          status: "RUNNING",
          inputs: "{}",
        })
        .execute();
      await db
        .insertInto("node_executions")
        .values({ execution_id: "xide", node_id: "n0", task: "t", status: "RUNNING", inputs: "{}" })
        .execute();
      await db
        .insertInto("attempts")
        .values({
          id: "xide.n0.a1",
          execution_id: "xide",
          node_id: "n0",
          number: 1,
          status: "RUNNING",
          token_hash: hashToken(agentToken),
        })
        .execute();
      const client = (token: string) =>
        createTRPCClient<AppRouter>({
          links: [
            httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
          ],
        });
      const [user, agent] = [client(server.token), client(agentToken)];
      const node = { executionId: "xide", nodeId: "n0" };
      const setDeadline = (seconds: number) =>
        db
          .updateTable("interactive_sessions")
          .set({ idle_deadline: sql<Date>`now() + make_interval(secs => ${seconds})` })
          .execute();

      expect(await agent.agent.heartbeat.mutate()).toEqual({ proceed: true });
      const { sessionId } = await agent.agent.openSession.mutate({ maxIdleSeconds: 60 });
      const beat = await agent.agent.heartbeat.mutate();
      expect(beat.session).toMatchObject({ resumeRequested: false });
      expect(beat.session?.idleRemainingMs).toBeGreaterThan(55_000);

      // Once opened (here: a sign-in on the task's pinned port), activity moves the deadline to a full 60 s
      // away; without it, it stays. Before, activity alone does not: the relay's probe is traffic too.
      await setDeadline(5);
      expect(
        (await agent.agent.heartbeat.mutate({ sessionActive: true })).session?.idleRemainingMs,
      ).toBeLessThanOrEqual(5_000);
      await agent.agent.heartbeat.mutate({ sessionOpened: true });
      await setDeadline(5);
      expect((await agent.agent.heartbeat.mutate({})).session?.idleRemainingMs).toBeLessThanOrEqual(
        5_000,
      );
      expect(
        (await agent.agent.heartbeat.mutate({ sessionActive: true })).session?.idleRemainingMs,
      ).toBeGreaterThan(55_000);
      await setDeadline(5);
      const kept = await user.sessions.keepAlive.mutate(node);
      expect(kept).toMatchObject({
        id: sessionId,
        state: "STARTING",
        maxIdleSeconds: 60,
        hasChanges: false,
        extensionProblems: [],
      });
      expect(Date.parse(kept.idleDeadline ?? "") - Date.now()).toBeGreaterThan(50_000);

      await expect(agent.sessions.resume.mutate(node)).rejects.toMatchObject({
        data: { code: "UNAUTHORIZED" },
      });
      const resumed = await user.sessions.resume.mutate(node);
      expect(resumed.resumeRequestedAt).toBeDefined();
      expect((await agent.agent.heartbeat.mutate()).session?.resumeRequested).toBe(true);

      const problems = [{ extension: "vscodevim.vim", message: "404 Not Found" }];
      await agent.agent.updateSession.mutate({ extensionProblems: problems, changes: "draft" });
      await agent.agent.endSession.mutate({ reason: "resumed" });
      await agent.agent.updateSession.mutate({ changes: "final edits" });
      expect(await user.sessions.changes.query(node)).toMatchObject({
        sessionId,
        patch: "final edits",
      });
      expect(
        (await user.executions.get.query({ id: "xide" })).nodes[0]?.attempts[0]?.session,
      ).toMatchObject({
        state: "ENDED",
        extensionProblems: problems,
        hasChanges: true,
      });
      await expect(user.sessions.resume.mutate(node)).rejects.toMatchObject({
        message:
          'node "n0" of execution "xide" has no live interactive session (its latest attempt is RUNNING; its session ended: resumed)',
        data: { code: "CONFLICT", httpStatus: 409, appCode: "NO_LIVE_SESSION" },
      });
      await expect(
        user.executions.debug.mutate({ executionId: "xide", nodeId: "n5" }),
      ).rejects.toMatchObject({
        data: { code: "NOT_FOUND", appCode: "NODE_NOT_FOUND" },
      });
      await expect(user.executions.debug.mutate(node)).rejects.toMatchObject({
        data: { code: "CONFLICT", appCode: "NODE_NOT_DEBUGGABLE" },
      });
    } finally {
      await db.destroy();
      await server.close();
    }
  });

  it("over tRPC, an ended attempt's token only retries its report and hears it must stop; a value the store refuses answers 400", async () => {
    const { server, databaseUrl, dataDir } = await serverOfItsOwn("agent_ended");
    const db = createDatabase(databaseUrl);
    try {
      // An attempt that succeeded with these outputs, as the agent reported them.
      const agentToken = randomBytes(24).toString("base64url");
      const outputs = Buffer.from(JSON.stringify("done"));
      const sha = createHash("sha256").update(outputs).digest("hex");
      await mkdir(join(dataDir, "blobs/executions/xend/nodes/n0/attempts/1"), { recursive: true });
      await writeFile(
        join(dataDir, "blobs/executions/xend/nodes/n0/attempts/1/outputs.json"),
        outputs,
      );
      await db
        .insertInto("executions")
        .values({
          id: "xend",
          project: "default",
          workflow: "wf",
          version: "v1",
          status: "SUCCEEDED",
          inputs: "{}",
        })
        .execute();
      await db
        .insertInto("node_executions")
        .values({
          execution_id: "xend",
          node_id: "n0",
          task: "t",
          status: "SUCCEEDED",
          inputs: "{}",
          outputs: '"done"',
        })
        .execute();
      await db
        .insertInto("attempts")
        .values({
          id: "xend.n0.a1",
          execution_id: "xend",
          node_id: "n0",
          number: 1,
          status: "SUCCEEDED",
          token_hash: hashToken(agentToken),
          outputs_sha256: sha,
          ended_at: new Date(),
        })
        .execute();
      const client = (token: string) =>
        createTRPCClient<AppRouter>({
          links: [
            httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
          ],
        });
      const [user, agent] = [client(server.token), client(agentToken)];
      const ended = (procedure: string) => ({
        message: `attempt "xend.n0.a1" ended SUCCEEDED: its agent token may no longer call agent.${procedure}`,
        data: { code: "FORBIDDEN", httpStatus: 403, appCode: "AGENT_TOKEN_ENDED" },
      });

      await expect(
        agent.agent.log.mutate({
          lines: [{ stream: "stdout", text: "late", at: new Date().toISOString() }],
        }),
      ).rejects.toMatchObject(ended("log"));
      await expect(agent.agent.updateSession.mutate({ changes: "forged" })).rejects.toMatchObject(
        ended("updateSession"),
      );
      await expect(agent.agent.openSession.mutate()).rejects.toMatchObject(ended("openSession"));
      await expect(agent.agent.started.mutate({ pid: 1 })).rejects.toMatchObject(ended("started"));
      await expect(agent.agent.fail.mutate({ error: { message: "late" } })).rejects.toMatchObject(
        ended("fail"),
      );
      await expect(
        agent.agent.complete.mutate({ outputsSha256: "0".repeat(64) }),
      ).rejects.toMatchObject(ended("complete"));
      expect(await agent.agent.complete.mutate({ outputsSha256: sha })).toEqual({ ok: true });
      expect(await agent.agent.heartbeat.mutate()).toEqual({ proceed: false });
      expect((await user.executions.get.query({ id: "xend" })).nodes[0]?.attempts[0]).toMatchObject(
        { status: "SUCCEEDED" },
      );

      // An aborted attempt's token, with a valid output and log lines in the report (no earlier read admits
      // `complete`: its transaction does): refused, nothing recorded, no line kept.
      const abortedToken = randomBytes(24).toString("base64url");
      await db
        .insertInto("attempts")
        .values({
          id: "xend.n0.a2",
          execution_id: "xend",
          node_id: "n0",
          number: 2,
          status: "ABORTED",
          token_hash: hashToken(abortedToken),
          ended_at: new Date(),
        })
        .execute();
      const late = JSON.stringify("forged");
      await expect(
        client(abortedToken).agent.complete.mutate({
          outputsSha256: createHash("sha256").update(late).digest("hex"),
          outputsJson: late,
          lines: [{ stream: "stdout", text: "forged line", at: new Date().toISOString() }],
          next: true,
        }),
      ).rejects.toMatchObject({
        message: `attempt "xend.n0.a2" ended ABORTED: its agent token may no longer call agent.complete`,
        data: { code: "FORBIDDEN", httpStatus: 403, appCode: "AGENT_TOKEN_ENDED" },
      });
      const aborted = await db
        .selectFrom("attempts")
        .select(["status", "outputs_sha256", "handed_to"])
        .where("id", "=", "xend.n0.a2")
        .executeTakeFirstOrThrow();
      expect(aborted).toEqual({ status: "ABORTED", outputs_sha256: null, handed_to: null });
      expect((await user.executions.logs.query({ attemptId: "xend.n0.a2" })).text).not.toContain(
        "forged line",
      );

      // PostgreSQL refuses U+0000 in text: the caller's bad value, named, not a 500.
      await expect(
        user.executions.create.mutate({
          project: "default",
          workflow: "wf",
          version: "v\u0000",
          inputs: {},
        }),
      ).rejects.toMatchObject({
        message: expect.stringContaining("the store cannot keep a value of this request") as string,
        data: { code: "BAD_REQUEST", httpStatus: 400, appCode: "VALUE_REFUSED" },
      });
    } finally {
      await db.destroy();
      await server.close();
    }
  });
});

describe("refuseUnisolatedTeams", () => {
  const oidc = {
    issuer: "http://127.0.0.1:1/",
    clientId: "drydock",
    clientSecret: "secret",
    name: "OpenID",
    adminEmails: [],
  };

  it("refuses people signing in where attempts are not kept apart, and says what would", () => {
    expect(() => refuseUnisolatedTeams({ oidc }, "none")).toThrow(
      /DRYDOCK_OIDC_ISSUER is set, but this server cannot keep attempts apart.*run it as root/,
    );
  });

  it("lets one person run unisolated, and teams run isolated", () => {
    expect(() => refuseUnisolatedTeams({ oidc: undefined }, "none")).not.toThrow();
    expect(() => refuseUnisolatedTeams({ oidc }, "per-attempt-user")).not.toThrow();
    expect(() => refuseUnisolatedTeams({ oidc }, "container")).not.toThrow();
  });
});
