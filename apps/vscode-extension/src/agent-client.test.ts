import { createServer } from "node:http";
import type { Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createIdeRouter } from "@drydock/contracts/ide";
import type { IdeHandlers } from "@drydock/contracts/ide";
import { createHTTPServer } from "@trpc/server/adapters/standalone";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AgentError, createIdeControlClient, unixSocketFetch } from "./agent-client.js";
import { sampleChanges, sampleContext, sampleStatus } from "./test/fixtures.js";

const TOKEN = "s3cret-token";

/** What the fake agent was asked, so a test can see a mutation really reached the handler. */
const calls: string[] = [];
let keepAliveDeadline = "2030-01-01T00:05:00.000Z";

const handlers: IdeHandlers = {
  context: async () => (calls.push("context"), sampleContext()),
  status: async () => (calls.push("status"), sampleStatus()),
  keepAlive: async () => {
    calls.push("keepAlive");
    keepAliveDeadline = "2030-01-01T00:10:00.000Z";
    return sampleStatus({ idleDeadline: keepAliveDeadline });
  },
  resume: async (input) => (
    calls.push(`resume ${input?.choice}`),
    { accepted: true, message: "resuming: code-server stops now" }
  ),
  changes: async () => (calls.push("changes"), sampleChanges()),
};

let dir: string;
let socketPath: string;
let server: Server;

async function listen(s: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(path, () => resolve());
  });
}

async function close(s: Server): Promise<void> {
  s.closeAllConnections();
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-ext-client-"));
  socketPath = join(dir, "control.sock");
  // The agent's side, as the contract prescribes: the router behind a check of the Bearer token.
  server = createHTTPServer({
    router: createIdeRouter(handlers),
    createContext: ({ req }) => ({ authorized: req.headers.authorization === `Bearer ${TOKEN}` }),
  });
  await listen(server, socketPath);
});

afterAll(async () => {
  await close(server);
  await rm(dir, { recursive: true, force: true });
});

describe("createIdeControlClient over a real Unix socket and a real tRPC server", () => {
  it("queries the context and the status", async () => {
    const client = createIdeControlClient({ socketPath, token: TOKEN });
    expect(await client.context()).toEqual(sampleContext());
    expect(await client.status()).toEqual(sampleStatus());
  });

  it("sends mutations: keepAlive returns the moved deadline, resume its answer", async () => {
    const client = createIdeControlClient({ socketPath, token: TOKEN });
    calls.length = 0;
    const status = await client.keepAlive();
    expect(status.idleDeadline).toBe("2030-01-01T00:10:00.000Z");
    expect(await client.resume("edited")).toEqual({
      accepted: true,
      message: "resuming: code-server stops now",
    });
    expect(calls).toEqual(["keepAlive", "resume edited"]);
  });

  it("sends the resume choice to the agent: the original code, or ending as failed", async () => {
    const client = createIdeControlClient({ socketPath, token: TOKEN });
    calls.length = 0;
    await client.resume("original");
    await client.resume("fail");
    expect(calls).toEqual(["resume original", "resume fail"]);
  });

  it("queries the changes with each file's registered text", async () => {
    const changes = await createIdeControlClient({ socketPath, token: TOKEN }).changes();
    expect(changes.files.map((f) => [f.path, f.status, f.original])).toEqual([
      ["workflow.ts", "modified", "old\n"],
      ["lib/new.ts", "added", null],
      ["lib/gone.ts", "deleted", "gone\n"],
    ]);
  });

  it("maps a wrong token to an 'unauthorized' AgentError that names the variable, and the handler never runs", async () => {
    calls.length = 0;
    const error = await createIdeControlClient({ socketPath, token: "wrong" })
      .status()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).reason).toBe("unauthorized");
    expect((error as AgentError).message).toMatch(
      /refused this window's control token \(DRYDOCK_CONTROL_TOKEN\)/,
    );
    expect(calls).toEqual([]);
  });

  it("maps a socket nobody listens on to an 'unreachable' AgentError naming the socket", async () => {
    const gone = join(dir, "gone.sock");
    const error = (await createIdeControlClient({ socketPath: gone, token: TOKEN })
      .context()
      .catch((e: unknown) => e)) as AgentError;
    expect(error).toBeInstanceOf(AgentError);
    expect(error.reason).toBe("unreachable");
    expect(error.message).toBe(
      `The Drydock agent is not answering on ${gone} (ENOENT): the session has probably ended.`,
    );
  });

  it("maps a socket whose server stopped to 'unreachable' too", async () => {
    const path = join(dir, "stopped.sock");
    const stopped = createHTTPServer({
      router: createIdeRouter(handlers),
      createContext: () => ({ authorized: true }),
    });
    await listen(stopped, path);
    const client = createIdeControlClient({ socketPath: path, token: TOKEN });
    expect((await client.status()).state).toBe("open");
    await close(stopped);
    const error = (await client.status().catch((e: unknown) => e)) as AgentError;
    expect(error.reason).toBe("unreachable");
    expect(error.message).toContain(path);
  });

  it("gives up on an agent that never answers after the timeout", async () => {
    const path = join(dir, "hang.sock");
    const hanging = createServer(() => undefined);
    await listen(hanging, path);
    try {
      const started = Date.now();
      const error = (await createIdeControlClient({
        socketPath: path,
        token: TOKEN,
        timeoutMs: 300,
      })
        .status()
        .catch((e: unknown) => e)) as AgentError;
      expect(error.reason).toBe("timeout");
      expect(error.message).toMatch(/did not answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await close(hanging);
    }
  });

  it("says so when the socket speaks something other than tRPC (an older agent's hand-rolled socket)", async () => {
    const path = join(dir, "old.sock");
    const old = createServer((_req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("no such control endpoint: GET /status\n");
    });
    await listen(old, path);
    try {
      const error = (await createIdeControlClient({ socketPath: path, token: TOKEN })
        .status()
        .catch((e: unknown) => e)) as AgentError;
      expect(error.reason).toBe("protocol");
      expect(error.message).toBe(
        "The Drydock agent answered HTTP 404 without tRPC (no such control endpoint: GET /status): the agent and this extension do not speak the same contract.",
      );
    } finally {
      await close(old);
    }
  });
});

describe("unixSocketFetch", () => {
  it("sends the method, path, query, headers and body, and returns status, headers and text", async () => {
    const path = join(dir, "echo.sock");
    const echo = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        res.writeHead(201, { "content-type": "application/json", "x-seen": "yes" });
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            auth: req.headers.authorization,
            host: req.headers.host,
            body,
          }),
        );
      });
    });
    await listen(echo, path);
    try {
      const res = await unixSocketFetch(path)("http://drydock-agent/keepAlive?batch=0", {
        method: "POST",
        headers: [["Authorization", "Bearer t"]],
        body: '{"a":1}',
      });
      expect(res.ok).toBe(true);
      expect(res.status).toBe(201);
      expect(res.headers.get("X-Seen")).toBe("yes");
      expect(await res.json()).toEqual({
        method: "POST",
        url: "/keepAlive?batch=0",
        auth: "Bearer t",
        host: "drydock-agent",
        body: '{"a":1}',
      });
    } finally {
      await close(echo);
    }
  });
});
