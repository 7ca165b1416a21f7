/**
 * Isolation of sessions on the local executor, probed from inside one: two live interactive sessions on a real
 * `drydock up` (as root, so each attempt runs as its own unprivileged uid), and commands typed into session A's
 * IDE terminal in Chromium. From there, the server's data directory and its secrets, session B's agent
 * environment (its token) and private directory, and B's code-server and control sockets are all out of reach,
 * while A's own workspace is writable. The test first checks, as root, that every target is there to reach.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchChromium, processTable, removeStack, startStack, waitFor } from "../harness.js";
import type { Stack } from "../harness.js";
import { terminalText } from "../ide.js";
import { launchInteractivePipeline, readySession } from "../interactive-pipeline.js";
import {
  interactiveAttempt,
  openIde,
  openTerminal,
  sessionPrivateDir,
  sessionSockets,
} from "./session-ide.js";

/** One live session and what of it another might try to reach. */
interface Attempt {
  executionId: string;
  sessionId: string;
  agentPid: number;
  uid: number;
  privateDir: string;
}

let stack: Stack | undefined;
let browser: Browser | undefined;
const executions: string[] = [];

const running = (): Stack => {
  if (!stack) throw new Error("the stack did not start");
  return stack;
};
let a: Attempt;
let b: Attempt;

/** The agent process of an attempt (`… --attempt <id>`), and the uid it runs as. */
async function agentOf(attemptId: string): Promise<{ pid: number; uid: number }> {
  const agent = (await processTable()).find((p) => p.cmdline.endsWith(`--attempt ${attemptId}`));
  if (!agent) throw new Error(`no agent process for attempt ${attemptId}`);
  const status = await readFile(`/proc/${agent.pid}/status`, "utf8");
  return { pid: agent.pid, uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) };
}

async function startAttempt(s: Stack): Promise<Attempt> {
  const executionId = await launchInteractivePipeline(s);
  executions.push(executionId);
  const session = await readySession(s, executionId);
  const attemptId = await interactiveAttempt(s, executionId);
  const { pid, uid } = await agentOf(attemptId);
  return {
    executionId,
    sessionId: session.id,
    agentPid: pid,
    uid,
    privateDir: await sessionPrivateDir(s, attemptId),
  };
}

beforeAll(async () => {
  stack = await startStack();
  a = await startAttempt(stack);
  b = await startAttempt(stack);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  for (const id of executions)
    await stack?.api.executions.abort.mutate({ id }).catch(() => undefined);
  if (stack) await removeStack(stack);
});

/** What one command typed into the terminal ended with: its exit code, and the end of its error message. */
interface Outcome {
  code: number;
  reason: string;
}

/**
 * Types `command` into the terminal, wrapped to print `R-<name>-<exit code>-<its error's last part>` (e.g.
 * "Permission denied"), and waits for that line. The typed line itself shows `$?` where the code will be, so
 * only the output matches.
 */
function probe(ide: Page, name: string, command: string): Promise<Outcome> {
  return answer(ide, name, `R=$(${command} 2>&1 >/dev/null); echo "R-${name}-$?-\${R##*: }"`);
}

/** Types `line` into the terminal and waits for the `R-<name>-<code>-<reason>` line it prints. */
async function answer(ide: Page, name: string, line: string): Promise<Outcome> {
  await ide.keyboard.type(line);
  await ide.keyboard.press("Enter");
  const marker = new RegExp(`R-${name}-(\\d+)-(.*)`);
  const found = await waitFor(
    `the terminal to answer ${name}`,
    async () => marker.exec(await terminalText(ide)) ?? undefined,
    30_000,
  ).catch(async (error: unknown) => {
    throw new Error(`${String(error)}; the terminal shows:\n${await terminalText(ide)}`);
  });
  return { code: Number(found[1]), reason: (found[2] ?? "").trim() };
}

/** A Unix socket connection from the terminal's own uid: exit 0 when it connects, else the error's code. */
const connectCommand = (socket: string) =>
  `${process.execPath} -e 'require("net").connect(process.argv[1]).on("connect",()=>process.exit(0)).on("error",(e)=>{console.error(e.code);process.exit(1)})' ${socket}`;

describe("a session's terminal on the local executor", () => {
  it("runs as an unprivileged uid of its own, one per attempt", () => {
    expect(a.uid).not.toBe(0);
    expect(b.uid).not.toBe(0);
    expect(a.uid).not.toBe(b.uid);
  });

  it("cannot read the data directory, its secrets, another attempt's environment or directory, nor connect to its sockets", async () => {
    const { dataDir, api } = running();
    const secrets = join(dataDir, "secrets.json");
    const environ = `/proc/${b.agentPid}/environ`;
    const { codeServer, control } = sessionSockets(b.privateDir);
    // As root, every target is there: a refusal below is isolation, not a wrong path.
    expect((await stat(secrets)).isFile()).toBe(true);
    expect(await readFile(environ, "utf8")).toContain("DRYDOCK_AGENT_TOKEN=");
    expect((await stat(codeServer)).isSocket()).toBe(true);
    expect((await stat(control)).isSocket()).toBe(true);

    const ide = await openIde(await (browser as Browser).newContext(), api, a.sessionId);
    await openTerminal(ide);
    const uid = await answer(ide, "uid", 'echo "R-uid-$((0))-$(id -u)"');
    const write = await probe(ide, "write", "touch ./.probe && rm ./.probe");
    const refused: Record<string, Outcome> = {
      dataDir: await probe(ide, "datadir", `ls ${dataDir}`),
      secrets: await probe(ide, "secrets", `cat ${secrets}`),
      environ: await probe(ide, "environ", `cat ${environ}`),
      privateDir: await probe(ide, "privdir", `ls ${b.privateDir}`),
      codeServer: await probe(ide, "codeserver", connectCommand(codeServer)),
      control: await probe(ide, "control", connectCommand(control)),
    };
    process.stdout.write(
      `isolation probes from session A's terminal (uid ${uid.reason}): ${JSON.stringify(refused)}\n`,
    );
    // The terminal is session A's, as its own uid, and may write its workspace…
    expect(uid.reason).toBe(String(a.uid));
    expect(write).toEqual({ code: 0, reason: "" });
    // …and reaches nothing else.
    const reached = Object.entries(refused).filter(([, outcome]) => outcome.code === 0);
    expect(reached, await terminalText(ide)).toEqual([]);
    await ide.context().close();
  });
});
