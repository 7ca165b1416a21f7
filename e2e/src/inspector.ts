/**
 * Just enough of the Chrome DevTools Protocol to do what VS Code's debugger does with a breakpoint in a
 * TypeScript file: stop before each script with a source map runs, map the .ts line to the compiled
 * script through that map, set the breakpoint there, and report where execution paused — mapped back.
 */
import { once } from "node:events";

import {
  generatedPositionFor,
  LEAST_UPPER_BOUND,
  originalPositionFor,
  TraceMap,
} from "@jridgewell/trace-mapping";
import WebSocket from "ws";

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

export class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((method: string, params: Record<string, unknown>) => void)[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      const message = JSON.parse(data.toString()) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
        method?: string;
        params?: Record<string, unknown>;
      };
      if (message.id !== undefined) {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(message.error.message));
        else waiter?.resolve(message.result ?? {});
      } else if (message.method) {
        for (const listener of this.listeners) listener(message.method, message.params ?? {});
      }
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await once(socket, "open");
    return new Inspector(socket);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  on(listener: (method: string, params: Record<string, unknown>) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.socket.close();
  }
}

export interface BreakpointHit {
  /** The line of the .ts file execution paused on, mapped back through the source map (1-based). */
  line: number;
  /** The value of `expression`, evaluated in the paused frame. */
  value: unknown;
}

/**
 * Attaches to a process started with `--inspect-brk`, sets a breakpoint on `line` (1-based) of the source
 * whose path ends with `sourceSuffix`, lets it run, and resolves with the first hit.
 */
export async function breakOnTsLine(
  wsUrl: string,
  sourceSuffix: string,
  line: number,
  expression: string,
): Promise<BreakpointHit> {
  const inspector = await Inspector.connect(wsUrl);
  const maps = new Map<string, TraceMap>();
  try {
    return await new Promise<BreakpointHit>((resolve, reject) => {
      inspector.on((method, params) => {
        void (async () => {
          if (method === "Debugger.scriptParsed") {
            const mapUrl = params.sourceMapURL as string | undefined;
            if (mapUrl?.startsWith("data:")) {
              const json = Buffer.from(mapUrl.slice(mapUrl.indexOf(",") + 1), "base64").toString(
                "utf8",
              );
              maps.set(params.scriptId as string, new TraceMap(json));
            }
            return;
          }
          if (method !== "Debugger.paused") return;
          const frame = (
            params.callFrames as {
              callFrameId: string;
              location: { scriptId: string; lineNumber: number; columnNumber: number };
            }[]
          )[0];
          if (!frame) return;
          const map = maps.get(frame.location.scriptId);
          const source = map?.sources.find((s) => s?.endsWith(sourceSuffix));
          if (params.reason === "instrumentation") {
            // Before a script with a source map runs: if it is ours, bind the breakpoint in it.
            if (map && source) {
              const at = generatedPositionFor(map, {
                source,
                line,
                column: 0,
                bias: LEAST_UPPER_BOUND,
              });
              if (at.line === null) throw new Error(`line ${line} of ${source} maps to no code`);
              await inspector.send("Debugger.setBreakpoint", {
                location: {
                  scriptId: frame.location.scriptId,
                  lineNumber: at.line - 1,
                  columnNumber: at.column,
                },
              });
            }
            await inspector.send("Debugger.resume");
            return;
          }
          if (!map || !source) {
            await inspector.send("Debugger.resume");
            return;
          }
          const original = originalPositionFor(map, {
            line: frame.location.lineNumber + 1,
            column: frame.location.columnNumber,
          });
          const evaluated = await inspector.send("Debugger.evaluateOnCallFrame", {
            callFrameId: frame.callFrameId,
            expression,
            returnByValue: true,
          });
          resolve({
            line: original.line ?? -1,
            value: (evaluated.result as { value?: unknown }).value,
          });
          await inspector.send("Debugger.resume");
        })().catch(reject);
      });
      void (async () => {
        await inspector.send("Debugger.enable");
        await inspector.send("Debugger.setInstrumentationBreakpoint", {
          instrumentation: "beforeScriptWithSourceMapExecution",
        });
        await inspector.send("Runtime.runIfWaitingForDebugger");
      })().catch(reject);
    });
  } finally {
    inspector.close();
  }
}
