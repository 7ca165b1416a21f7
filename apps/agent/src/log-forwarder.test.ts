import { Writable } from "node:stream";

import { afterEach, describe, expect, it, vi } from "vitest";

import { LogForwarder } from "./log-forwarder.js";
import type { LogLine } from "./log-forwarder.js";

/** A stand-in for process.stdout/stderr that records what reaches it. */
class RecordingStream extends Writable {
  private readonly chunks: Buffer[] = [];
  get written(): string {
    return Buffer.concat(this.chunks).toString();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
}

function streams() {
  const stdout = new RecordingStream();
  const stderr = new RecordingStream();
  return {
    stdout,
    stderr,
    asStreams: { stdout, stderr } as unknown as Record<"stdout" | "stderr", NodeJS.WritableStream>,
  };
}

const texts = (lines: LogLine[]) => lines.map((l) => `${l.stream}:${l.text}`);

let forwarder: LogForwarder | undefined;
afterEach(async () => {
  await forwarder?.stop();
  forwarder = undefined;
});

describe("LogForwarder", () => {
  it("forwards whole lines per stream, console included, writes them through, and flushes a partial line on stop", async () => {
    const { stdout, stderr, asStreams } = streams();
    const batches: LogLine[][] = [];
    forwarder = new LogForwarder(async (lines) => void batches.push(lines), { streams: asStreams });
    forwarder.start();

    asStreams.stdout.write("one\ntw");
    asStreams.stderr.write("err line\r\n");
    asStreams.stdout.write("o\n");
    console.log("via console");
    const euro = Buffer.from("€ sign\n");
    asStreams.stdout.write(euro.subarray(0, 2));
    asStreams.stdout.write(euro.subarray(2));
    forwarder.system("agent says hi");
    asStreams.stdout.write("no newline at the end");
    await forwarder.stop();

    expect(texts(batches.flat())).toEqual([
      "stdout:one",
      "stderr:err line",
      "stdout:two",
      "stdout:via console",
      "stdout:€ sign",
      "system:agent says hi",
      "stdout:no newline at the end",
    ]);
    expect(stdout.written).toBe("one\ntwo\nvia console\n€ sign\nno newline at the end");
    expect(stderr.written).toBe("err line\r\n");
  });

  it("sends as soon as a batch is full, without waiting for the interval", async () => {
    const { asStreams } = streams();
    const batches: LogLine[][] = [];
    forwarder = new LogForwarder(async (lines) => void batches.push(lines), {
      streams: asStreams,
      batchLines: 3,
      flushIntervalMs: 60_000,
      replaceConsole: false,
    });
    forwarder.start();
    asStreams.stdout.write("a\nb\nc\nd\n");
    await vi.waitFor(() => expect(batches).toHaveLength(1));
    expect(texts(batches[0] ?? [])).toEqual(["stdout:a", "stdout:b", "stdout:c"]);
  });

  it("keeps a bounded buffer while the server does not take lines, and says how many it dropped", async () => {
    const { asStreams } = streams();
    const delivered: LogLine[] = [];
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    forwarder = new LogForwarder(
      async (lines) => {
        await blocked;
        delivered.push(...lines);
      },
      {
        streams: asStreams,
        batchLines: 5,
        maxBufferedLines: 10,
        flushIntervalMs: 60_000,
        replaceConsole: false,
      },
    );
    forwarder.start();
    for (let i = 0; i < 105; i++) asStreams.stdout.write(`l${i}\n`);
    release();
    await forwarder.stop();

    const expected = [0, 1, 2, 3, 4, ...Array.from({ length: 10 }, (_, i) => 95 + i)].map(
      (i) => `stdout:l${i}`,
    );
    expect(texts(delivered.filter((l) => l.stream !== "system"))).toEqual(expected);
    expect(delivered.filter((l) => l.stream === "system").map((l) => l.text)).toEqual([
      "90 log line(s) dropped: the server did not take them in time",
    ]);
  });

  it("restores the streams and the console when it stops", async () => {
    const { stdout, asStreams } = streams();
    const consoleBefore = globalThis.console;
    const sent: LogLine[] = [];
    forwarder = new LogForwarder(async (lines) => void sent.push(...lines), { streams: asStreams });
    forwarder.start();
    expect(globalThis.console).not.toBe(consoleBefore);
    await forwarder.stop();

    expect(globalThis.console).toBe(consoleBefore);
    expect(Object.prototype.hasOwnProperty.call(stdout, "write")).toBe(false);
    asStreams.stdout.write("after stop\n");
    await forwarder.stop();
    expect(sent).toEqual([]);
  });

  it("keeps going when a batch cannot be delivered", async () => {
    const { asStreams } = streams();
    const errors: number[] = [];
    let calls = 0;
    const sent: LogLine[] = [];
    forwarder = new LogForwarder(
      async (lines) => {
        if (++calls === 1) throw new Error("413 payload too large");
        sent.push(...lines);
      },
      {
        streams: asStreams,
        batchLines: 2,
        replaceConsole: false,
        onSendError: (_e, n) => errors.push(n),
      },
    );
    forwarder.start();
    asStreams.stdout.write("a\nb\nc\n");
    await forwarder.stop();
    expect(errors).toEqual([2]);
    expect(texts(sent)).toEqual(["stdout:c"]);
  });
});
