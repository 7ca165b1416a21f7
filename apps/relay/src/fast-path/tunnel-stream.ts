import type { ClientHttp2Stream } from "node:http2";
import type { Socket } from "node:net";

import { copyCorked, NGHTTP2_CANCEL } from "@drydock/tunnel";

import { Refusal } from "../authority.js";
import type { ConnectionHooks, RequestKind } from "./hooks.js";

/** What the byte stream needs to know of the connection it serves. */
export interface StreamOwner {
  readonly socket: Socket;
  /** The connection reads no more requests. */
  readonly done: boolean;
  /** The browser has sent all it will. */
  readonly socketEnded: boolean;
  refuse(refusal: Refusal, kind: RequestKind): void;
  /** Stops following the socket's end and close: the connection is about to be given up. */
  forgetSocket(): void;
}

function doNothing(): void {}

/**
 * A connection's one byte stream through the session's tunnel to code-server: requests go in as they are
 * parsed (held until the stream is open, the socket paused while the stream is full), responses come back
 * untouched. After an upgrade the same stream carries the application's bytes both ways.
 */
export class TunnelStream {
  /** The stream requests are written to, once open. */
  private stream: ClientHttp2Stream | undefined;
  /** The relay is finding the tunnel. */
  private opening = false;
  /** Request bytes parsed before the stream was open. */
  private pending: Buffer[] = [];
  private waitingForDrain = false;
  /** Set once the connection stops being served here: what to do when the responses in flight are done. */
  private finish: (() => void) | undefined;
  /** Lets go of the open stream and of the socket's end and close. */
  private detach: () => void = doNothing;

  constructor(private readonly owner: StreamOwner) {}

  /** No stream is open, nor being opened. */
  get idle(): boolean {
    return !this.stream && !this.opening;
  }

  send(bytes: Buffer): void {
    if (!this.stream) {
      this.pending.push(bytes);
      return;
    }
    if (!this.stream.write(bytes) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.owner.socket.pause();
      this.stream.once("drain", this.onDrain);
    }
  }

  /** Finds the session's tunnel and opens the stream through it; reading waits until it is open. */
  open(hooks: ConnectionHooks, sessionId: string, authority: string, kind: RequestKind): void {
    this.opening = true;
    this.owner.socket.pause();
    hooks.open(sessionId, authority, this.owner.socket, this.attach, (why) => {
      this.opening = false;
      this.pending = [];
      this.finish = undefined;
      this.owner.refuse(why, kind);
    });
  }

  /**
   * Once code-server has answered the requests already sent (it sees the end of the stream and finishes
   * them), `action` takes over the connection; at once when there is no stream.
   */
  afterResponses(action: () => void): void {
    if (!this.stream && !this.opening) return action();
    this.finish = action;
    if (this.stream && !this.stream.writableEnded) this.stream.end();
  }

  /** The browser sent its last request: code-server is told, and finishes what it has. */
  endRequests(): void {
    if (this.stream && !this.stream.writableEnded) this.stream.end();
  }

  /** The browser's connection closed: nothing is left to answer. */
  cancel(): void {
    if (this.stream && !this.stream.closed) this.stream.close(NGHTTP2_CANCEL);
  }

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    if (!this.owner.done) this.owner.socket.resume();
  };

  /** The byte stream is open: what was parsed meanwhile goes first, then responses flow back untouched. */
  private readonly attach = (opened: ClientHttp2Stream): void => {
    this.opening = false;
    if (this.owner.socket.destroyed) {
      opened.close(NGHTTP2_CANCEL);
      return;
    }
    this.stream = opened;
    for (const buffer of this.pending) opened.write(buffer);
    this.pending = [];
    if (this.owner.socketEnded || this.finish) opened.end();
    this.follow(opened);
    if (!this.owner.done) this.owner.socket.resume();
  };

  /** Copies code-server's responses to the browser; when they end, the connection ends or is taken over. */
  private follow(opened: ClientHttp2Stream): void {
    const { socket } = this.owner;
    let stopCopy = doNothing;
    const onStreamEnd = () => {
      if (!this.finish) return void socket.end();
      const action = this.finish;
      this.finish = undefined;
      this.detach();
      action();
    };
    const onResponse = (h2: { ":status"?: number }) => {
      if (h2[":status"] !== 200) {
        this.detach();
        this.stream = undefined;
        return this.owner.refuse(new Refusal(503, "the task's IDE is not answering"), "http");
      }
      stopCopy = copyCorked(opened, socket, () => socket, onStreamEnd);
    };
    const onError = () => socket.destroy();
    // A stream that closes without having ended (reset, or its tunnel gone) leaves nothing to serve this
    // connection: close it, so the browser opens a new one.
    const onClose = () => {
      if (!opened.readableEnded) socket.destroy();
    };
    opened.on("response", onResponse);
    opened.on("error", onError);
    opened.on("close", onClose);
    this.detach = () => {
      stopCopy();
      opened.off("response", onResponse);
      opened.off("error", onError);
      opened.off("close", onClose);
      opened.on("error", () => undefined);
      if (!opened.closed) opened.close(NGHTTP2_CANCEL);
      this.owner.forgetSocket();
    };
  }
}
