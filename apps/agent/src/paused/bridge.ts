/**
 * The paused-task runner's inspector bridge: a worker thread of the task's process that (1) watches its main
 * thread with an inspector session — pausing it at a throw that escapes the task function (V8's "uncaught"
 * prediction), or on the task function's first line for a pause point — and tells the agent where it paused,
 * and (2) serves the Chrome DevTools Protocol on a Unix socket, one inspector session per WebSocket, which
 * is how VS Code's debugger attaches (`websocketAddress: "ws+unix:<socket>:/"`). A worker can keep talking
 * to the main thread's inspector while that thread is paused; nothing of it listens on TCP.
 */
import { chmodSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import { Session } from "node:inspector";
import { SourceMap } from "node:module";
import type { SourceMapPayload } from "node:module";
import { relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parentPort } from "node:worker_threads";

import type { PauseInfo } from "@drydock/contracts";
import { WebSocketServer } from "ws";

import { MESSAGE_FD, TASK_FN_KEY } from "./protocol.js";
import type { BridgeReply, BridgeRequest, RunnerMessage, RunnerSettings } from "./protocol.js";

const port = parentPort;
if (!port) throw new Error("bridge.ts runs as a worker thread of the paused-task runner");

// A worker with nothing scheduled exits even while its inspector calls are in flight; this one lives as long
// as the process (which the runner ends with process.exit).
setInterval(() => undefined, 1 << 30);

function send(message: RunnerMessage): void {
  const line = Buffer.from(`${JSON.stringify(message)}\n`);
  for (let written = 0; written < line.length;) {
    try {
      written += writeSync(MESSAGE_FD, line, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
    }
  }
}

type Post = <T = Record<string, unknown>>(method: string, params?: object) => Promise<T>;

function connect(): { session: Session; post: Post } {
  const session = new Session();
  session.connectToMainThread();
  const post: Post = (method, params = {}) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) =>
        error ? reject(error) : resolve(result as never),
      ),
    );
  return { session, post };
}

interface CallFrame {
  callFrameId: string;
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber?: number };
}
interface PausedEvent {
  reason: string;
  callFrames: CallFrame[];
  hitBreakpoints?: string[];
  data?: { objectId?: string; uncaught?: boolean; description?: string };
}

const watcher = connect();
const scripts = new Map<string, { url: string; sourceMapURL?: string; map?: SourceMap | null }>();
let taskBreakpoint: string | undefined;

watcher.session.on("Debugger.scriptParsed", ({ params }) => {
  const { scriptId, url, sourceMapURL } = params as {
    scriptId: string;
    url: string;
    sourceMapURL?: string;
  };
  if (url.startsWith("file:"))
    scripts.set(scriptId, { url, ...(sourceMapURL ? { sourceMapURL } : {}) });
});

watcher.session.on("Debugger.paused", ({ params }) => {
  void onPaused(params as PausedEvent).catch((error: unknown) =>
    process.stderr.write(`drydock: could not describe the pause: ${String(error)}\n`),
  );
});

/** Reports the pauses that are ours to report; the debugger's own (steps, breakpoints) are its business. */
async function onPaused(event: PausedEvent): Promise<void> {
  const exception =
    (event.reason === "exception" || event.reason === "promiseRejection") &&
    event.data?.uncaught !== false;
  const before = taskBreakpoint !== undefined && event.hitBreakpoints?.includes(taskBreakpoint);
  if (!exception && !before) return;
  const where = locate(event.callFrames);
  const at = new Date().toISOString();
  if (before) {
    send({
      type: "paused",
      pause: {
        reason: "before",
        ...where,
        message: `held before task ${settings.taskName} runs`,
        at,
      },
    });
    return;
  }
  const error = await describeException(event.data?.objectId, event.data?.description);
  send({ type: "paused", pause: { reason: "exception", ...where, ...error, at } });
}

/** The first frame in the bundle's own code (not node_modules), as a .ts file relative to it and a 1-based line. */
function locate(frames: CallFrame[]): Pick<PauseInfo, "file" | "line"> {
  for (const frame of frames) {
    const script = scripts.get(frame.location.scriptId);
    if (!script) continue;
    const original = originalPosition(
      script,
      frame.location.lineNumber,
      frame.location.columnNumber ?? 0,
    );
    const file = relative(settings.bundleDir, original.path);
    if (file.startsWith("..") || file.split(sep).includes("node_modules")) continue;
    return { file, line: original.line + 1 };
  }
  return {};
}

/** A generated position mapped through the script's source map (tsx's inline one), 0-based. */
function originalPosition(
  script: { url: string; sourceMapURL?: string; map?: SourceMap | null },
  line: number,
  column: number,
): { path: string; line: number } {
  const generated = { path: fileURLToPath(script.url.split("?")[0] ?? script.url), line };
  if (script.map === undefined) script.map = parseSourceMap(script.sourceMapURL);
  const entry = script.map?.findEntry(line, column);
  if (!entry || !("originalSource" in entry)) return generated;
  const source = new URL(entry.originalSource, script.url);
  return source.protocol === "file:"
    ? { path: fileURLToPath(source), line: entry.originalLine }
    : generated;
}

function parseSourceMap(url: string | undefined): SourceMap | null {
  const inline = url && /^data:application\/json[^,]*;base64,(.*)$/s.exec(url);
  if (!inline?.[1]) return null;
  try {
    return new SourceMap(
      JSON.parse(Buffer.from(inline[1], "base64").toString("utf8")) as SourceMapPayload,
    );
  } catch {
    return null;
  }
}

/** The thrown value's message, name and stack, read in the paused frame. */
async function describeException(
  objectId: string | undefined,
  description: string | undefined,
): Promise<Pick<PauseInfo, "message" | "name" | "stack">> {
  if (!objectId) return { message: description ?? "a non-object was thrown" };
  const { result } = await watcher.post<{ result: { value?: Record<string, string> } }>(
    "Runtime.callFunctionOn",
    {
      objectId,
      returnByValue: true,
      functionDeclaration: `function () {
        if (this instanceof Error) return { message: String(this.message), name: String(this.name), stack: String(this.stack) };
        let text; try { text = JSON.stringify(this); } catch { text = String(this); }
        return { message: "non-Error thrown: " + text, name: typeof this };
      }`,
    },
  );
  const value = result.value ?? {};
  return {
    message: value.message ?? description ?? "unknown error",
    ...(value.name ? { name: value.name } : {}),
    ...(value.stack ? { stack: value.stack } : {}),
  };
}

const settingsGiven = new Promise<RunnerSettings>((resolve) => {
  port.on("message", (request: BridgeRequest) => {
    if (request.type === "settings") resolve(request.settings);
    else void breakOnTask().then((reply) => port.postMessage(reply));
  });
});

/** A pause point: a breakpoint on the first line of the task's own function (the runner put it in a global). */
async function breakOnTask(): Promise<BridgeReply> {
  try {
    const { result } = await watcher.post<{ result: { objectId?: string } }>("Runtime.evaluate", {
      expression: `globalThis[Symbol.for(${JSON.stringify(TASK_FN_KEY)})]`,
    });
    if (!result.objectId) return { type: "breakpoint-set", ok: false, reason: "no task function" };
    const { breakpointId } = await watcher.post<{ breakpointId: string }>(
      "Debugger.setBreakpointOnFunctionCall",
      { objectId: result.objectId },
    );
    taskBreakpoint = breakpointId;
    return { type: "breakpoint-set", ok: true };
  } catch (error) {
    return { type: "breakpoint-set", ok: false, reason: String(error) };
  }
}

/** VS Code's debugger, through the socket: each connection an inspector session of its own. */
function serveInspector(): Promise<void> {
  const server = createServer((_request, response) => {
    response.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server, maxPayload: 256 * 1024 * 1024 });
  wss.on("connection", (ws) => {
    const { session, post } = connect();
    session.on("inspectorNotification", (message) => ws.send(JSON.stringify(message)));
    ws.on("message", (data) => {
      let request: { id: number; method: string; params?: object };
      try {
        request = JSON.parse((data as Buffer).toString("utf8")) as typeof request;
      } catch {
        return;
      }
      post(request.method, request.params).then(
        (result) => ws.send(JSON.stringify({ id: request.id, result })),
        (error: Error) =>
          ws.send(
            JSON.stringify({
              id: request.id,
              error: { code: -32000, message: inspectorMessage(error) },
            }),
          ),
      );
    });
    ws.on("close", () => session.disconnect());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.socketPath, () => {
      chmodSync(settings.socketPath, 0o600);
      resolve();
    });
  });
}

/** The protocol's own message out of Node's wrapping of it ("Inspector error -32601: 'X' wasn't found"). */
function inspectorMessage(error: Error): string {
  return error.message.replace(/^Inspector error -?\d+: /, "");
}

// Inspecting from the start, before the task's modules load: V8 then reports each script as it is parsed, which
// costs the main thread far less than reporting the hundreds loaded by then at once.
await watcher.post("Debugger.enable");
await watcher.post("Debugger.setPauseOnExceptions", { state: "uncaught" });
// The attempt's, once the runner passes them on: the runner and this thread may start before the task is known.
const settings = await settingsGiven;
await serveInspector();
port.postMessage({ type: "ready" } satisfies BridgeReply);
