import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { readServerConfig, startServer } from "@drydock/server";
import type { RunningServer } from "@drydock/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createApiClient } from "./client.js";
import { CLI_PACKAGE, runCli } from "./test/run-cli.js";

// Two trivial tasks (count 0): the cheapest real execution to debug.
const FANOUT = resolve(CLI_PACKAGE, "../../examples/fanout/workflow.ts");
const NOWHERE = ["--endpoint", "http://127.0.0.1:1", "--token", "t0ken"];
const NODE_COMMANDS = ["resume", "keep-alive", "changes", "debug", "fork"];

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "drydock-cli-home-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** The real CLI with no saved context and no DRYDOCK_* settings; `terminal` feeds a terminal on stdin. */
const drydock = (args: string[], options: { terminal?: string } = {}) =>
  runCli(args, { home, ...options });

describe("resume, keep-alive, changes and debug: arguments", { timeout: 120_000 }, () => {
  it("need an execution and a node", async () => {
    const results = await Promise.all(
      NODE_COMMANDS.map((command) => drydock([command, "e1", ...NOWHERE])),
    );
    for (const [i, r] of results.entries()) {
      expect(r.code, NODE_COMMANDS[i]).not.toBe(0);
      expect(r.stderr, NODE_COMMANDS[i]).toContain("missing required argument 'node'");
    }
  });

  it("refuse an empty node id and an unknown --output before calling any server", async () => {
    const [empty, output] = await Promise.all([
      drydock(["keep-alive", "e1", "", ...NOWHERE]),
      drydock(["debug", "e1", "n0", "-o", "yaml", ...NOWHERE]),
    ]);
    expect(empty).toMatchObject({ code: 2, stdout: "" });
    expect(empty.stderr).toBe(
      "error: the node id is empty (nodes are n0, n1, …, as `drydock executions get <execution>` lists them)\n",
    );
    expect(output).toMatchObject({ code: 2, stdout: "" });
    expect(output.stderr).toBe('error: --output must be "text" or "json", not "yaml"\n');
  });

  it("changes takes one way home, and --branch only with --commit, before calling any server", async () => {
    const [both, branch] = await Promise.all([
      drydock(["changes", "e1", "n0", "--apply", "--commit", ...NOWHERE]),
      drydock(["changes", "e1", "n0", "--apply", "--branch", "fix/n0", ...NOWHERE]),
    ]);
    expect(both).toMatchObject({ code: 2, stdout: "" });
    expect(both.stderr).toBe(
      "error: --apply and --commit are two ways to carry the edit home: give one\n",
    );
    expect(branch).toMatchObject({ code: 2, stdout: "" });
    expect(branch.stderr).toBe("error: --branch only applies to --commit\n");
  });

  it("recover needs an execution; run refuses --overwrite-cache without --remote", async () => {
    const [missing, empty, local] = await Promise.all([
      drydock(["recover", ...NOWHERE]),
      drydock(["recover", "x1", "--force", "", ...NOWHERE]),
      drydock(["run", FANOUT, "fanout", "--overwrite-cache"]),
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("missing required argument 'execution'");
    expect(empty).toMatchObject({ code: 2, stdout: "" });
    expect(empty.stderr).toBe("error: --force names an empty node id (nodes are n0, n1, …)\n");
    expect(local).toMatchObject({ code: 2, stdout: "" });
    expect(local.stderr).toBe("error: --overwrite-cache only applies to --remote runs\n");
  });

  it("say how to reach a server when none is configured", async () => {
    const results = await Promise.all(
      NODE_COMMANDS.map((command) =>
        drydock([command, "e1", "n0", ...(command === "resume" ? ["--yes"] : [])]),
      ),
    );
    for (const [i, r] of results.entries()) {
      expect(r.code, NODE_COMMANDS[i]).toBe(2);
      expect(r.stderr, NODE_COMMANDS[i]).toContain(
        "no Drydock server to talk to: start one with `drydock up`",
      );
    }
  });

  it("name the server they cannot reach, with a non-zero exit", async () => {
    const results = await Promise.all(
      NODE_COMMANDS.map((command) =>
        drydock([command, "e1", "n0", ...NOWHERE, ...(command === "resume" ? ["--yes"] : [])]),
      ),
    );
    for (const [i, r] of results.entries()) {
      expect(r, NODE_COMMANDS[i]).toMatchObject({ code: 1, stdout: "" });
      expect(r.stderr, NODE_COMMANDS[i]).toBe(
        "error: cannot reach the Drydock server at http://127.0.0.1:1 (is `drydock up` running?)\n",
      );
    }
  });
});

describe("drydock resume asks first", { timeout: 120_000 }, () => {
  it("requires --yes when stdin is not a terminal, and calls nothing", async () => {
    const r = await drydock(["resume", "e1", "n0", ...NOWHERE]);
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toBe(
      "error: drydock resume asks before it stops code-server, and cannot ask without a terminal: pass --yes to resume task n0 of execution e1\n",
    );
  });

  it("on a terminal, resumes nothing unless the answer is yes", async () => {
    const [no, enter, yes] = await Promise.all([
      drydock(["resume", "e1", "n0", ...NOWHERE], { terminal: "n\n" }),
      drydock(["resume", "e1", "n0", ...NOWHERE], { terminal: "\n" }),
      drydock(["resume", "e1", "n0", ...NOWHERE], { terminal: "yes\n" }),
    ]);
    for (const r of [no, enter, yes]) {
      expect(r.stdout).toContain(
        "Resume task n0 of execution e1? code-server will stop and the task runs with the edited sources [y/N]",
      );
    }
    for (const r of [no, enter]) {
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("not resumed: task n0 of execution e1 keeps its IDE");
      expect(r.stdout).not.toContain("cannot reach");
    }
    // Yes goes on to the server, which is not there.
    expect(yes.code).toBe(1);
    expect(yes.stdout).toContain("error: cannot reach the Drydock server at http://127.0.0.1:1");
  });
});

describe("against a real server", { timeout: 120_000 }, () => {
  let dataDir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "drydock-cli-server-"));
    server = await startServer(
      readServerConfig({ DRYDOCK_LOG_LEVEL: "silent" }, { port: 0, dataDir }),
    );
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const connection = () => ["--endpoint", server.url, "--token", server.token];

  it("login saves the server's credential (0600), whoami and console use it, api-keys make one that signs in", async () => {
    const own = await mkdtemp(join(tmpdir(), "drydock-cli-login-"));
    try {
      const home = join(own, ".drydock");
      const login = await runCli(["login", "--endpoint", server.url, "--api-key", "-"], {
        home,
        stdin: server.token,
      });
      expect(login.code, login.stderr).toBe(0);
      expect((await stat(join(home, "context.json"))).mode & 0o777).toBe(0o600);
      expect((await stat(home)).mode & 0o777).toBe(0o700);
      const whoami = await runCli(["whoami", "-o", "json"], { home });
      expect(whoami.code, whoami.stderr).toBe(0);
      expect(JSON.parse(whoami.stdout)).toMatchObject({
        via: "token",
        user: { instanceAdmin: true },
      });
      const link = await runCli(["console"], { home });
      expect(link.code, link.stderr).toBe(0);
      expect(link.stdout).toMatch(new RegExp(`^${server.url}/\\S+\n$`));
      expect(link.stdout).not.toContain(server.token);

      const created = await runCli(
        ["api-keys", "create", "ci", "--ceiling", "viewer", "-o", "json"],
        {
          home,
        },
      );
      expect(created.code, created.stderr).toBe(0);
      const { secret } = JSON.parse(created.stdout) as { secret: string };
      const withKey = await runCli(["whoami", "-o", "json"], {
        home: join(own, "none"),
        env: { DRYDOCK_ENDPOINT: server.url, DRYDOCK_TOKEN: secret },
      });
      expect(JSON.parse(withKey.stdout)).toMatchObject({ via: "apiKey", ceiling: "viewer" });
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it.each([
    ["resume", ["--yes"]],
    ["keep-alive", []],
    ["changes", []],
    ["debug", []],
  ])(
    "%s of an unknown execution fails naming it, with nothing on stdout",
    async (command, extra) => {
      const r = await drydock([command, "xnope", "n0", ...connection(), ...extra]);
      expect(r).toMatchObject({ code: 1, stdout: "" });
      expect(r.stderr).toBe('error: execution "xnope" does not exist [EXECUTION_NOT_FOUND]\n');
    },
  );

  it(
    "name the node when it has no session, does not exist or cannot be debugged; debug re-runs one that can",
    { timeout: 240_000 },
    async () => {
      const run = await drydock([
        "run",
        "--remote",
        "--wait",
        FANOUT,
        "fanout",
        "--count",
        "0",
        ...connection(),
      ]);
      expect(run.code, run.stderr).toBe(0);
      const id = /execution (\S+) started/.exec(run.stderr)?.[1] ?? "";

      const [changes, keepAlive, resume, unknown, fanOut] = await Promise.all([
        drydock(["changes", id, "n0", ...connection()]),
        drydock(["keep-alive", id, "n0", ...connection()]),
        drydock(["resume", id, "n0", "--yes", ...connection()]),
        drydock(["debug", id, "n9", ...connection()]),
        drydock(["debug", id, "n1", ...connection()]),
      ]);
      for (const [r, node, code] of [
        [changes, "n0", "NO_SESSION"],
        [keepAlive, "n0", "NO_LIVE_SESSION"],
        [resume, "n0", "NO_LIVE_SESSION"],
        [unknown, "n9", "NODE_NOT_FOUND"],
        [fanOut, "n1", "NODE_NOT_DEBUGGABLE"],
      ] as const) {
        expect(r, code).toMatchObject({ code: 1, stdout: "" });
        expect(r.stderr, code).toMatch(
          new RegExp(`^error: node "${node}" of execution "${id}" [^\n]+ \\[${code}\\]\n$`),
        );
      }

      // This server has no relay, so the debug run's IDE cannot open: the run fails, and says why.
      const json = await drydock(["debug", id, "n0", "-o", "json", ...connection()]);
      expect(json.code, json.stderr).toBe(0);
      const started = JSON.parse(json.stdout) as {
        id: string;
        url: string;
        node: string;
        debugOf: unknown;
      };
      expect(started).toEqual({
        id: expect.any(String) as string,
        url: `${server.url}/executions/${started.id}`,
        node: "n0",
        debugOf: { executionId: id, nodeId: "n0" },
      });
      expect(json.stderr).toContain(
        `execution ${started.id} started: task n0 of execution ${id} again, in an IDE, with the inputs it had\n`,
      );
      expect(json.stderr).toContain(
        `when you are done: drydock resume ${started.id} n0   (the IDE's edits: drydock changes ${started.id} n0)\n`,
      );

      const waited = await drydock(["debug", id, "n0", "--wait", ...connection()]);
      expect(waited.code, waited.stderr).toBe(1);
      expect(waited.stdout).toBe("");
      const debugId = /execution (\S+) started/.exec(waited.stderr)?.[1] ?? "";
      expect(waited.stderr).toContain(`execution ${debugId} FAILED\n`);
      expect(waited.stderr).toMatch(
        /node n0 \(indexes\) failed after 1 attempt\(s\): the interactive session failed: interactive sessions need the relay/,
      );

      const { api, close } = createApiClient({
        endpoint: server.url,
        token: server.token,
      });
      try {
        // Let the first debug run end too, so the server stops with nothing running.
        for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
          const { execution } = await api.executions.get.query({ id: started.id });
          if (execution.status !== "RUNNING") break;
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        close();
      }
    },
  );
});
