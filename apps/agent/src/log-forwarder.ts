/**
 * Forwards what the task writes to stdout/stderr (console.* included) to the server in batches, while still
 * writing it through to the real streams. The buffer is bounded: if the server stays unreachable, the oldest
 * lines are dropped and a system line says how many.
 */
import { Console } from "node:console";
import { StringDecoder } from "node:string_decoder";

import type { LogLineSchema } from "@drydock/contracts";
import type { z } from "zod";

export type LogLine = z.infer<typeof LogLineSchema>;
type CapturedStream = "stdout" | "stderr";
type Write = NodeJS.WritableStream["write"];

export interface LogForwarderOptions {
  /** Send what is buffered this often. */
  flushIntervalMs?: number;
  /** Lines per `agent.log` call (and the buffer size that triggers a send before the interval). */
  batchLines?: number;
  /** Lines kept while the server does not take them; older ones are dropped. */
  maxBufferedLines?: number;
  /** Longer lines are cut. */
  maxLineLength?: number;
  /** The streams to capture (default: process.stdout and process.stderr). */
  streams?: Record<CapturedStream, NodeJS.WritableStream>;
  /** Route the global console through the captured streams while forwarding (default true). */
  replaceConsole?: boolean;
  /** Called when a batch could not be delivered (it is then lost). */
  onSendError?: (error: unknown, lines: number) => void;
  now?: () => Date;
}

export class LogForwarder {
  private readonly flushIntervalMs: number;
  private readonly batchLines: number;
  private readonly maxBufferedLines: number;
  private readonly maxLineLength: number;
  private readonly streams: Record<CapturedStream, NodeJS.WritableStream>;
  private readonly replaceConsole: boolean;
  private readonly onSendError: (error: unknown, lines: number) => void;
  private readonly now: () => Date;

  private buffer: LogLine[] = [];
  private dropped = 0;
  private readonly partial: Record<CapturedStream, string> = { stdout: "", stderr: "" };
  private readonly decoders: Record<CapturedStream, StringDecoder> = {
    stdout: new StringDecoder("utf8"),
    stderr: new StringDecoder("utf8"),
  };
  private readonly undo: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;

  constructor(
    private readonly send: (lines: LogLine[]) => Promise<unknown>,
    options: LogForwarderOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.batchLines = options.batchLines ?? 500;
    this.maxBufferedLines = options.maxBufferedLines ?? 10_000;
    this.maxLineLength = options.maxLineLength ?? 16_384;
    this.streams = options.streams ?? { stdout: process.stdout, stderr: process.stderr };
    this.replaceConsole = options.replaceConsole ?? true;
    this.onSendError = options.onSendError ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
  }

  /** Starts capturing the streams. */
  start(): void {
    if (this.undo.length > 0) return;
    for (const name of ["stdout", "stderr"] as const) this.patch(name, this.streams[name]);
    if (this.replaceConsole) {
      const previous = globalThis.console;
      globalThis.console = new Console({
        stdout: this.streams.stdout,
        stderr: this.streams.stderr,
      });
      this.undo.push(() => {
        globalThis.console = previous;
      });
    }
    this.timer = setInterval(() => this.kick(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Adds a line of the agent's own (shown in the task's log as `system`). */
  system(text: string): void {
    this.push({ stream: "system", text: this.cut(text), at: this.now().toISOString() });
  }

  /** Sends everything buffered so far. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.dropped > 0 || this.draining) {
      this.kick();
      await this.draining;
    }
  }

  /**
   * Hands over what is buffered to a call that carries it (`agent.complete`), once any send under way is
   * done: at most `maxLines` lines, which this forwarder then no longer sends. More than that, or a drop to
   * report, go out as usual first, so the lines keep their order.
   */
  async take(maxLines: number): Promise<LogLine[]> {
    for (;;) {
      while (this.draining) await this.draining;
      if (this.buffer.length <= maxLines && this.dropped === 0) return this.buffer.splice(0);
      await this.flush();
    }
  }

  /** Lines `take` handed over that the call could not deliver: they go out first, as usual. */
  giveBack(lines: LogLine[]): void {
    if (lines.length === 0) return;
    this.buffer.unshift(...lines);
    this.kick();
  }

  /** Stops capturing, then delivers what is left (giving up after `timeoutMs`, if given). */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const undo of this.undo.splice(0).reverse()) undo();
    for (const name of ["stdout", "stderr"] as const) {
      const rest = this.partial[name] + this.decoders[name].end();
      this.partial[name] = "";
      if (rest.length > 0) this.line(name, rest);
    }
    if (options.timeoutMs === undefined) return this.flush();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs);
    });
    await Promise.race([this.flush(), timeout]);
    clearTimeout(timer);
  }

  private patch(name: CapturedStream, stream: NodeJS.WritableStream): void {
    // An own `write` (another patch's) is put back exactly as it was; without one, the prototype's shows again.
    const ownWrite = Object.getOwnPropertyDescriptor(stream, "write");
    const original = stream.write.bind(stream);
    const capture = (chunk: unknown, encoding: unknown) => {
      try {
        this.capture(
          name,
          chunk,
          typeof encoding === "string" ? (encoding as BufferEncoding) : undefined,
        );
      } catch {
        // Forwarding must never break the task's own writes.
      }
    };
    stream.write = function (this: unknown, ...args: unknown[]): boolean {
      capture(args[0], args[1]);
      return Reflect.apply(original, stream, args) as boolean;
    };
    this.undo.push(() => {
      if (ownWrite) Object.defineProperty(stream, "write", ownWrite);
      else delete (stream as { write?: Write }).write;
    });
  }

  private capture(
    name: CapturedStream,
    chunk: unknown,
    encoding: BufferEncoding | undefined,
  ): void {
    let text: string;
    if (typeof chunk === "string") {
      text =
        encoding && encoding !== "utf8" && encoding !== "utf-8"
          ? this.decoders[name].write(Buffer.from(chunk, encoding))
          : chunk;
    } else if (chunk instanceof Uint8Array) {
      text = this.decoders[name].write(
        Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
    } else {
      return;
    }
    const pieces = (this.partial[name] + text).split("\n");
    this.partial[name] = pieces.pop() ?? "";
    for (const piece of pieces) this.line(name, piece);
    if (this.partial[name].length > this.maxLineLength) {
      this.line(name, this.partial[name]);
      this.partial[name] = "";
    }
  }

  private line(stream: CapturedStream, text: string): void {
    this.push({
      stream,
      text: this.cut(text.endsWith("\r") ? text.slice(0, -1) : text),
      at: this.now().toISOString(),
    });
  }

  private cut(text: string): string {
    return text.length <= this.maxLineLength
      ? text
      : `${text.slice(0, this.maxLineLength)}… [${text.length - this.maxLineLength} characters cut]`;
  }

  private push(line: LogLine): void {
    this.buffer.push(line);
    // Drop in chunks so a long outage costs one splice per chunk, not one shift per line.
    const slack = Math.max(1, Math.floor(this.maxBufferedLines / 10));
    if (this.buffer.length >= this.maxBufferedLines + slack) {
      const excess = this.buffer.length - this.maxBufferedLines;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.batchLines) this.kick();
  }

  private kick(): void {
    if (this.draining || (this.buffer.length === 0 && this.dropped === 0)) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 || this.dropped > 0) {
      const batch: LogLine[] = [];
      if (this.dropped > 0) {
        batch.push({
          stream: "system",
          text: `${this.dropped} log line(s) dropped: the server did not take them in time`,
          at: this.now().toISOString(),
        });
        this.dropped = 0;
      }
      batch.push(...this.buffer.splice(0, this.batchLines - batch.length));
      try {
        await this.send(batch);
      } catch (error) {
        this.onSendError(error, batch.length);
      }
    }
  }
}
