/**
 * Post-mortem debugging from the CLI, pause points, the unopened limit, and what nobody outside the session can
 * reach. A paused task's resume choices from `drydock resume`: `--original` (a second attempt pausing at the same
 * throw), `--fail` (the node FAILS with the original stack, downstream not run), `--edited` after an edit of the
 * session's workspace (SUCCEEDED with the edited output). `run --remote --pause-before` holds a plain task on its
 * first line with its IDE open: in Chromium, Variables show the real inputs and Continue runs it for real;
 * `drydock debug --pause-before` does the same for a past node. The inspector is a Unix socket of the attempt's
 * user: no TCP port, refused to another user, and nothing of it through the relay without a ticket.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, readdir, readlink, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { RESUME_FAIL_CODE, RESUME_ORIGINAL_CODE, SESSION_UNOPENED_CODE } from "@drydock/contracts";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  drydock,
  launchChromium,
  processTable,
  ROOT,
  startStack,
  tearDown,
  waitFor,
} from "../harness.js";
import type { Stack } from "../harness.js";
import { startedId } from "../reuse/executions.js";
import {
  debugView,
  ended,
  leftovers,
  lineOf,
  pausedSession,
  SOURCE,
  variablesShowing,
} from "./paused.js";

const run = promisify(execFile);
const SHOTS = join(ROOT, "e2e/artifacts/postmortem");
const THROW_LINE = lineOf("// THROWS");
const MESSAGE = "60 x 2 is over 100";

const started: { stack?: Stack; browser?: Browser; executionId?: string } = {};
let stack: Stack;

beforeAll(async () => {
  stack = started.stack = await startStack();
});

afterAll(() => tearDown(started));

async function launch(workflow: string, ...flags: string[]): Promise<string> {
  const result = await drydock(["run", "--remote", SOURCE, workflow, ...flags], stack.env);
  expect(result.code, result.stderr).toBe(0);
  return (started.executionId = startedId(result));
}

async function resume(id: string, node: string, flag?: string) {
  const result = await drydock(["resume", id, node, ...(flag ? [flag] : []), "--yes"], stack.env);
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

/** A TCP connection's outcome: "connected", or the error's code. */
function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** A GET on the session's host through the relay, with no cookie (Node does not resolve `*.localhost`). */
function relayStatus(link: URL, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: Number(link.port), path, headers: { host: link.host } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Inodes of every TCP socket in LISTEN state on this machine. */
async function listeningInodes(): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"])
    for (const row of (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols[3] === "0A" && cols[9]) inodes.add(cols[9]);
    }
  return inodes;
}

describe("resume choices from the CLI", () => {
  let id: string;

  it("keeps the paused task's inspector to the session: a Unix socket of its user, no TCP port, nothing through the relay without a ticket", async () => {
    id = await launch("postmortem_pipeline");
    const session = await pausedSession(stack, id, "n1");
    const runner = (await processTable()).find((p) => p.cmdline.includes("paused-runner.js"));
    if (!runner) throw new Error("no paused-task runner is running");

    // No socket of the paused process listens on TCP, on any address.
    const listening = await listeningInodes();
    const socketInodes = new Set<string>();
    for (const fd of await readdir(`/proc/${runner.pid}/fd`)) {
      const inode = /^socket:\[(\d+)\]$/.exec(
        await readlink(`/proc/${runner.pid}/fd/${fd}`).catch(() => ""),
      )?.[1];
      if (inode) socketInodes.add(inode);
      if (inode) expect(listening.has(inode), `fd ${fd} listens on TCP`).toBe(false);
    }
    // Node's default inspector port answers on neither loopback nor the machine's other address.
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    expect(await tcpConnect("127.0.0.1", 9229)).toBe("ECONNREFUSED");
    if (other) expect(await tcpConnect(other, 9229)).toBe("ECONNREFUSED");

    // The socket: 0600, owned by the attempt's user; another user's connect is refused by the kernel.
    // It is the Unix socket the process listens on (/proc/net/unix: …, inode, path).
    const socket = (await readFile(`/proc/${runner.pid}/net/unix`, "utf8"))
      .split("\n")
      .map((row) => row.trim().split(/\s+/))
      .find((cols) => socketInodes.has(cols[6] ?? "") && cols[7]?.endsWith("/inspector.sock"))?.[7];
    if (!socket) throw new Error("the paused-task runner listens on no inspector.sock");
    const info = await stat(socket);
    expect(info.mode & 0o777).toBe(0o600);
    const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${runner.pid}/status`, "utf8"))?.[1];
    expect(String(info.uid)).toBe(uid);
    const probe = await run(
      "runuser",
      [
        "-u",
        "nobody",
        "--",
        process.execPath,
        "-e",
        `require("net").connect(${JSON.stringify(socket)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); })`,
      ],
      { timeout: 30_000 },
    );
    expect(probe.stdout.trim()).toMatch(/^(EACCES|ENOENT)$/);

    // Through the relay, the session's host without a ticket's cookie gets nothing, the inspector included.
    const link = new URL(session.link ?? "");
    for (const path of ["/", "/json/version", "/json/list"]) {
      const status = await relayStatus(link, path);
      expect([401, 403], `${path}: ${status}`).toContain(status);
    }
  });

  it("--original: the attempt ends and a second one runs the original code, pausing at the same throw", async () => {
    const asked = await resume(id, "n1", "--original");
    expect(asked.stdout + asked.stderr).toMatch(/original/);
    const second = await pausedSession(stack, id, "n1", 2);
    expect(second.pause).toMatchObject({ reason: "exception", line: THROW_LINE, message: MESSAGE });
    const { nodes } = await stack.api.executions.get.query({ id });
    const [attempt1] = nodes.find((n) => n.nodeId === "n1")?.attempts ?? [];
    expect(attempt1?.status).toBe("FAILED");
    expect(attempt1?.error).toMatchObject({ message: MESSAGE, code: RESUME_ORIGINAL_CODE });
    expect(attempt1?.resume?.choice).toBe("original");
    expect(attempt1?.resume?.by).toBeTruthy();
    expect(attempt1?.resume?.by).not.toBe("the IDE");
  });

  it("--fail: the node FAILS with the original error and stack, downstream does not run; executions get shows both choices", async () => {
    await resume(id, "n1", "--fail");
    const detail = await ended(stack, id);
    expect(detail.execution.status).toBe("FAILED");
    const n1 = detail.nodes.find((n) => n.nodeId === "n1");
    expect(n1?.error).toMatchObject({
      message: MESSAGE,
      name: "RangeError",
      code: RESUME_FAIL_CODE,
    });
    expect(n1?.error?.stack).toMatch(/at check \(.*pipeline\.ts:\d+:\d+\)/);
    expect(n1?.attempts).toHaveLength(2);
    expect(detail.nodes.find((n) => n.nodeId === "n2")?.attempts ?? []).toEqual([]);
    const shown = await drydock(["executions", "get", id], stack.env);
    expect(shown.stdout).toMatch(/resumed: original by /);
    expect(shown.stdout).toMatch(/resumed: fail by /);
  });

  it("--edited after an edit of the session's workspace: the edited code runs for real, SUCCEEDED downstream", async () => {
    const edited = await launch("postmortem_pipeline");
    const session = await pausedSession(stack, edited, "n1");
    const workspace = await waitFor(
      "the workspace path in the log",
      async () =>
        (await stack.api.executions.logs.query({ attemptId: session.attemptId })).text.match(
          /VS Code workspace: (\S+)/,
        )?.[1],
    );
    const file = join(workspace, session.pause.file ?? "pipeline.ts");
    await writeFile(
      file,
      (await readFile(file, "utf8")).replace(
        "const limit = 100; // LIMIT",
        "const limit = 1000; // LIMIT",
      ),
    );
    await resume(edited, "n1", "--edited");
    const detail = await ended(stack, edited);
    expect(detail.execution.status).toBe("SUCCEEDED");
    expect(detail.execution.result).toBe("scaled: 20,120");
    expect(detail.nodes.find((n) => n.nodeId === "n1")?.attempts.at(-1)?.resume?.choice).toBe(
      "edited",
    );
  });
});

describe("pause points", () => {
  let held: string;

  it("--pause-before holds a plain task on its first line: in Chromium, Variables show its inputs, and Continue runs it for real", async () => {
    held = await launch("postmortem_plain", "--pause-before", "n1");
    expect((await stack.api.executions.get.query({ id: held })).execution.pauseBefore).toEqual([
      "n1",
    ]);
    const session = await pausedSession(stack, held, "n1");
    expect(session.pause).toMatchObject({ reason: "before", line: lineOf("// FIRST LINE") });
    const browser = (started.browser = await launchChromium());
    const ide = await (
      await browser.newContext({ viewport: { width: 1400, height: 900 } })
    ).newPage();
    await ide.goto((await stack.api.sessions.ideTicket.mutate({ sessionId: session.id })).url);
    await mkdir(SHOTS, { recursive: true });
    await waitFor(
      "VS Code's debugger to attach to the held task",
      async () =>
        (await debugView(ide, "call-stack").catch(() => "")).includes("pipeline.ts")
          ? true
          : undefined,
      90_000,
    );
    // On the function's first line the body's block scope comes first; its parameters are in Local.
    await variablesShowing(ide, /Local/);
    await ide
      .locator(".debug-variables .monaco-list-row", { hasText: /^Local$/ })
      .first()
      .click();
    await variablesShowing(ide, /factor =\s*3/, /values =/);
    // The upstream output the task received: [10, 60].
    await ide.locator(".debug-variables .monaco-list-row", { hasText: "values =" }).first().click();
    await waitFor("the inputs' elements in Variables", async () =>
      /0 =\s*10[\s\S]*1 =\s*60/.test(await debugView(ide, "variables")) ? true : undefined,
    );
    // Continue (F5 while debugging).
    await ide.locator(".debug-toolbar .codicon-debug-continue").first().click();
    const detail = await ended(stack, held);
    expect(detail.execution.status).toBe("SUCCEEDED");
    expect(detail.execution.result).toBe("scaled: 30,180");
    expect(detail.nodes.find((n) => n.nodeId === "n1")?.attempts.at(-1)?.resume).toMatchObject({
      choice: "continued",
      by: "the debugger",
    });
    await browser.close();
    started.browser = undefined;
  });

  it("refuses a pause point on a node the workflow does not have, naming it", async () => {
    const result = await drydock(
      ["run", "--remote", SOURCE, "postmortem_plain", "--pause-before", "n9"],
      stack.env,
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/n9/);
  });

  it("drydock debug --pause-before holds the debug run's node; resume --original runs it", async () => {
    const debug = await drydock(["debug", held, "n1", "--pause-before"], stack.env);
    expect(debug.code, debug.stderr).toBe(0);
    const debugId = (debug.stdout + debug.stderr)
      .match(/\b(x[a-z0-9]{6,})\b/g)
      ?.find((x) => x !== held);
    if (!debugId) throw new Error(`no new execution id in:\n${debug.stdout}\n${debug.stderr}`);
    started.executionId = debugId;
    const session = await pausedSession(stack, debugId, "n1");
    expect(session.pause.reason).toBe("before");
    await resume(debugId, "n1", "--original");
    const detail = await ended(stack, debugId);
    expect(detail.execution.status).toBe("SUCCEEDED");
    expect(detail.execution.result).toEqual([30, 180]);
  });
});

describe("the two limits", () => {
  it("a session nobody opens ends after maxUnopenedSeconds, saying so, and is not retried", async () => {
    const id = await launch("postmortem_unopened");
    const detail = await ended(stack, id, 90_000);
    expect(detail.execution.status).toBe("FAILED");
    const [attempt] = detail.nodes[0]?.attempts ?? [];
    expect(detail.nodes[0]?.attempts).toHaveLength(1);
    expect(attempt?.session).toMatchObject({ endReason: "unopened", maxUnopenedSeconds: 4 });
    expect(attempt?.error).toMatchObject({ code: SESSION_UNOPENED_CODE });
    expect(attempt?.error?.message).toMatch(/without being opened \(maxUnopenedSeconds\)/);
    // Four seconds after it opened, not the ten minutes of maxIdleSeconds.
    const lasted =
      Date.parse(attempt?.session?.endedAt ?? "") - Date.parse(attempt?.session?.createdAt ?? "");
    expect(lasted).toBeLessThan(30_000);
  });

  it("leaves no paused task and no code-server behind", async () => {
    await waitFor("no paused task or code-server left", async () =>
      (await leftovers()).length === 0 ? true : undefined,
    );
  });
});
