import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";

import type { ExecutionDetail, ExecutionSummary, WorkflowVersion } from "@drydock/contracts";
import { readServerConfig, startServer } from "@drydock/server";
import type { RunningServer } from "@drydock/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CLI_PACKAGE, runCli } from "./test/run-cli.js";

const RECOVERABLE = resolve(CLI_PACKAGE, "src/test/recoverable.ts");

let home: string;
let dataDir: string;
let markers: string;
let server: RunningServer;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "drydock-rerun-home-"));
  // Attempts may run as users of their own: they must be able to look for the marker.
  markers = await mkdtemp(join(tmpdir(), "drydock-rerun-markers-"));
  await chmod(markers, 0o755);
  dataDir = await mkdtemp(join(tmpdir(), "drydock-rerun-server-"));
  server = await startServer(
    readServerConfig({ DRYDOCK_LOG_LEVEL: "silent" }, { port: 0, dataDir }),
  );
}, 120_000);
afterAll(async () => {
  await server?.close();
  for (const dir of [home, markers, dataDir]) await rm(dir, { recursive: true, force: true });
});

const drydock = (args: string[]) =>
  runCli([...args, "--endpoint", server.url, "--token", server.token], { home });

const json = async <T>(args: string[]): Promise<T> => {
  const r = await drydock([...args, "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

describe("recover and fork against a real server", { timeout: 240_000 }, () => {
  it("recover reruns only what failed, reusing what succeeded, and says so in executions get", async () => {
    const marker = join(markers, "settle");
    const failed = await drydock([
      "run",
      "--remote",
      "--wait",
      RECOVERABLE,
      "recoverable",
      "--marker",
      marker,
    ]);
    expect(failed.code, failed.stderr).toBe(1);
    const parent = /execution (\S+) started/.exec(failed.stderr)?.[1] ?? "";
    expect(failed.stderr).toContain(`no marker at ${marker} yet`);

    await writeFile(marker, "");
    const recovered = await drydock(["recover", parent, "--wait"]);
    expect(recovered.code, recovered.stderr).toBe(0);
    const child = /execution (\S+) started/.exec(recovered.stderr)?.[1] ?? "";
    expect(recovered.stderr).toContain(
      `execution ${child} started\nrecovered from ${parent} (reusing what succeeded)\nconsole: ${server.url}/executions/${child}\n`,
    );
    expect(recovered.stderr).toContain(`execution ${child} SUCCEEDED\n`);

    const before = await json<ExecutionDetail>(["executions", "get", parent]);
    const after = await json<ExecutionDetail>(["executions", "get", child]);
    expect(after.execution).toMatchObject({
      status: "SUCCEEDED",
      parent: { executionId: parent, kind: "recover", force: [] },
      overwriteCache: false,
    });
    const [drawBefore] = before.nodes;
    const [draw, settle] = after.nodes;
    expect(draw).toMatchObject({
      nodeId: "n0",
      status: "SUCCEEDED",
      attempts: [],
      reused: { from: "parent", executionId: parent, nodeId: "n0" },
    });
    expect(draw?.outputs).toEqual(drawBefore?.outputs);
    expect(settle?.reused).toBeUndefined();
    expect(settle?.attempts).toHaveLength(1);
    expect(after.execution.result).toBe(`settled ${drawBefore?.outputs as string}`);

    const text = await drydock(["executions", "get", child]);
    expect(text.stdout).toContain(`\nrecovered from ${parent}\n`);
    expect(text.stdout).toMatch(
      new RegExp(`\\nn0 +draw +SUCCEEDED .* reused from ${parent} n0\\n`),
    );

    // --force runs a node that succeeded again: its output is drawn anew.
    const forced = await drydock(["recover", parent, "--force", "n0", "--wait", "-o", "json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain(
      `recovered from ${parent} (reusing what succeeded, except n0 and what follows them)`,
    );
    const forcedId = /execution (\S+) started/.exec(forced.stderr)?.[1] ?? "";
    const redrawn = await json<ExecutionDetail>(["executions", "get", forcedId]);
    expect(redrawn.nodes[0]?.reused).toBeUndefined();
    expect(redrawn.nodes[0]?.outputs).not.toEqual(drawBefore?.outputs);
    const again = await drydock(["executions", "get", forcedId]);
    expect(again.stdout).toContain(`recovered from ${parent} (run again: n0)`);
  });

  it("names the problem, exits 1 and starts nothing for an unknown execution or node, or a node with no edits", async () => {
    const version = await json<WorkflowVersion>(["workflows", "get", "recoverable"]);
    expect(version.origin?.host).toBe(hostname());
    const listed = await json<ExecutionSummary[]>(["executions", "list"]);
    // The first execution failed; the newest, recovered with --force, succeeded.
    const id = listed.at(-1)?.id ?? "";
    const succeeded = listed[0]?.id ?? "";
    const [recoverUnknown, forkUnknown, recoverSucceeded, forkNode, forkNoEdits, apply, commit] =
      await Promise.all([
        drydock(["recover", "xnope"]),
        drydock(["fork", "xnope", "n0"]),
        drydock(["recover", succeeded]),
        drydock(["fork", id, "n9"]),
        drydock(["fork", id, "n0"]),
        drydock(["changes", id, "n0", "--apply"]),
        drydock(["changes", id, "n0", "--commit"]),
      ]);
    for (const [r, problem] of [
      [recoverUnknown, 'execution "xnope" does not exist \\[EXECUTION_NOT_FOUND\\]'],
      [forkUnknown, 'execution "xnope" does not exist \\[EXECUTION_NOT_FOUND\\]'],
      [recoverSucceeded, `execution "${succeeded}" [^\n]+ \\[EXECUTION_NOT_RECOVERABLE\\]`],
      [forkNode, `node "n9" of execution "${id}" [^\n]+ \\[NODE_NOT_FOUND\\]`],
      [forkNoEdits, `node "n0" of execution "${id}" [^\n]+ \\[NO_EDITS_TO_FORK\\]`],
      [apply, `node "n0" of execution "${id}" [^\n]+ \\[NO_SESSION\\]`],
      [commit, `node "n0" of execution "${id}" [^\n]+ \\[NO_SESSION\\]`],
    ] as const) {
      expect(r, problem).toMatchObject({ code: 1, stdout: "" });
      expect(r.stderr).toMatch(new RegExp(`^error: ${problem}\n$`));
    }
    expect(await json<ExecutionSummary[]>(["executions", "list"])).toHaveLength(listed.length);
  });

  it("run --remote --overwrite-cache launches an execution marked so", async () => {
    const marker = join(markers, "settle");
    const run = await drydock([
      "run",
      "--remote",
      "--overwrite-cache",
      "--wait",
      RECOVERABLE,
      "recoverable",
      "--marker",
      marker,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const id = /execution (\S+) started/.exec(run.stderr)?.[1] ?? "";
    const detail = await json<ExecutionDetail>(["executions", "get", id]);
    expect(detail.execution.overwriteCache).toBe(true);
    const text = await drydock(["executions", "get", id]);
    expect(text.stdout).toContain("\nlaunched with --overwrite-cache: cached tasks ran again\n");
  });
});
