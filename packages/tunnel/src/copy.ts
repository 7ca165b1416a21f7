import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";

/**
 * Copies `source` into `sink` like `pipe`, but writes everything one turn of the event loop delivered as one
 * socket write: the sink's socket is corked on the first chunk and uncorked on the next turn. HTTP/2 hands
 * data over in 16 KB DATA frames; written one by one, each would cost a syscall. Backpressure as `pipe`:
 * the source pauses while the sink is full. When the source ends, `onSourceEnd` runs (by default: end the
 * sink). Returns a function that stops the copy.
 *
 * The socket itself is corked (not the message), and the same socket is uncorked: a response lets go of its
 * socket when it ends, and a kept-alive connection left corked would hold the next response back.
 */
export function copyCorked(
  source: Readable,
  sink: Writable,
  socketOf: () => Socket | null | undefined,
  onSourceEnd: () => void = () => sink.end(),
): () => void {
  let corked = false;
  const onData = (chunk: Buffer) => {
    const socket = socketOf();
    if (!corked && socket) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    if (!sink.write(chunk)) source.pause();
  };
  const onDrain = () => source.resume();
  const onEnd = () => onSourceEnd();
  source.on("data", onData);
  sink.on("drain", onDrain);
  source.on("end", onEnd);
  /** Stops copying (the source is left paused). */
  return () => {
    source.off("data", onData);
    source.off("end", onEnd);
    sink.off("drain", onDrain);
    source.pause();
  };
}
