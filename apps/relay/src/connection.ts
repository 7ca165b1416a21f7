/**
 * The relay's fast path: one browser connection to a session host becomes one byte stream through the
 * tunnel to code-server (the agent only copies bytes), and responses come back untouched. Requests are
 * parsed on the way in, one by one, so each is still checked (cookie, Origin) and rewritten: the relay's
 * cookie is removed, and the request line, headers and body framing are written anew from what the parser
 * understood, so the relay and code-server cannot disagree about where a request ends (no smuggling).
 *
 * A ticket's redemption, when it is a connection's first request, is answered here: its redirect keeps the
 * connection, and the IDE's first page comes through on it. A connection whose first request is otherwise
 * not for a session (the relay's own routes, the agents' tunnels) is handed, bytes and all, to the relay's
 * ordinary HTTP server. So is one that later asks for another host or a relay route (a load balancer pooling
 * connections across sessions, say): from that request on, the relay's server handles it request by request.
 */
import type { ClientHttp2Stream } from "node:http2";
import type { Socket } from "node:net";

import { copyCorked, NGHTTP2_CANCEL } from "@drydock/tunnel";
import { HTTPParser, type HeaderInfo } from "http-parser-js";

import { Refusal } from "./authority.js";
import { rawAnswer, type OwnAnswer } from "./pages.js";

/** What a connection needs from the relay. */
export interface ConnectionHooks {
  /** The session a Host header names, if any. */
  sessionOf(host: string | undefined): string | undefined;
  /** Checks one request of the session; a refusal ends the connection with its status. */
  admit(
    sessionId: string,
    cookie: string | undefined,
    origin: string | undefined,
    upgrade: boolean,
  ): Refusal | undefined;
  /** Finds the session's tunnel (waiting a little for a reconnecting agent) and opens a byte stream through it. */
  open(
    sessionId: string,
    authority: string,
    socket: Socket,
    ready: (stream: ClientHttp2Stream) => void,
    refuse: (refusal: Refusal) => void,
  ): void;
  /** A header's value as it may cross, or null to drop it (the relay's cookie). */
  rewrite(name: string, value: string): string | null;
  /** Counts a request that crossed. */
  forwarded(kind: "http" | "upgrade"): void;
  /** Answers on the socket with a refusal and closes it. */
  refuse(socket: Socket, refusal: Refusal, kind: "http" | "upgrade"): void;
  /** Gives the connection to the relay's HTTP server, replaying `bytes` first. */
  handOff(socket: Socket, bytes: Buffer): void;
  /**
   * Answers a request for the relay's own route `url` on a session host here, the connection staying with
   * the fast path (the ticket's redemption); undefined hands the connection to the relay's HTTP server.
   */
  answer(host: string | undefined, method: string, url: string): Promise<OwnAnswer> | undefined;
  /** The connection's first request passed `admit`: it has signed in. */
  signedIn(socket: Socket): void;
  /** A complete head arrived that the relay answers itself; `awaitingHead` once that answer is written. */
  headArrived(socket: Socket): void;
  awaitingHead(socket: Socket): void;
  /** Largest request head, in bytes: a larger one is refused with 431, however it was split into reads. */
  maxHeaderSize: number;
}

/** Largest request head, on the fast path and in the relay's HTTP server alike. */
export const MAX_HEAD_BYTES = 16 * 1024;

const FRAMING = new Set(["content-length", "transfer-encoding"]);

export function serveConnection(socket: Socket, hooks: ConnectionHooks): void {
  const parser = new HTTPParser(HTTPParser.REQUEST);
  // The head's size is measured here: http-parser-js measures only a head that spans reads (one that arrives
  // in a single read is never checked), and counts with it whatever else that read held (a body before it).
  parser.maxHeaderSize = Number.POSITIVE_INFINITY;
  const cursor = parser as unknown as { offset: number };
  /** Bytes of the head being read that came in earlier reads, and where in the current read it starts. */
  let headBefore = 0;
  let headStart = 0;
  let inHead = true;
  let sessionId: string | undefined;
  /** The byte stream through the tunnel, once open; `opening` while the relay finds the tunnel. */
  let stream: ClientHttp2Stream | undefined;
  let opening = false;
  /** Request bytes parsed before the stream was open. */
  let pending: Buffer[] = [];
  /** What was read before the first request head was understood, kept for a hand-off. */
  let firstBytes: Buffer[] | undefined = [];
  /** Set once the connection stops being served here: what to do when the responses in flight are done. */
  let finish: (() => void) | undefined;
  let done = false;
  let chunked = false;
  let upgraded = false;
  let waitingForDrain = false;
  let socketEnded = false;
  /** An answer of the relay's own is being prepared: reading waits, and what followed its request is kept. */
  let answering: { rest: Buffer } | undefined;
  let detach = () => {};

  const send = (bytes: Buffer) => {
    if (!stream) {
      pending.push(bytes);
      return;
    }
    if (!stream.write(bytes) && !waitingForDrain) {
      waitingForDrain = true;
      socket.pause();
      stream.once("drain", () => {
        waitingForDrain = false;
        if (!done) socket.resume();
      });
    }
  };

  /**
   * Stops reading requests; once code-server has answered those already sent (it sees the end of the
   * stream and finishes them), `action` takes over the connection: a refusal, or the relay's own server.
   */
  const afterResponses = (action: () => void) => {
    done = true;
    socket.removeListener("data", onData);
    socket.pause();
    if (!stream && !opening) return action();
    finish = action;
    if (stream && !stream.writableEnded) stream.end();
  };
  const refuse = (refusal: Refusal, kind: "http" | "upgrade") =>
    afterResponses(() => hooks.refuse(socket, refusal, kind));

  /**
   * Writes an answer of the relay's own, then reads on: the next request is again a connection's first,
   * so the IDE's first page after the redemption's redirect takes the fast path on this same connection.
   */
  const answerHere = (answer: Promise<OwnAnswer>, keepAlive: boolean) => {
    answering = { rest: Buffer.alloc(0) };
    socket.pause();
    hooks.headArrived(socket);
    answer.then(
      (own) => {
        const rest = answering?.rest ?? Buffer.alloc(0);
        answering = undefined;
        if (socket.destroyed) return;
        const close = !keepAlive || socketEnded;
        socket.write(rawAnswer(own, close));
        // Until the connection signs in, its next head (or its closing, after `close`) is on the clock again.
        hooks.awaitingHead(socket);
        if (close) {
          done = true;
          socket.removeListener("data", onData);
          return void socket.end();
        }
        firstBytes = [];
        socket.resume();
        if (rest.length > 0) onData(rest);
      },
      () => socket.destroy(),
    );
  };

  parser[HTTPParser.kOnHeadersComplete] = (info: HeaderInfo) => {
    if (done) return 1;
    inHead = false;
    const kind = info.upgrade ? "upgrade" : "http";
    if (headBefore + cursor.offset - headStart > hooks.maxHeaderSize) {
      refuse(tooLarge(hooks.maxHeaderSize), kind);
      return 1;
    }
    const raw = info.headers;
    let host: string | undefined;
    let cookie: string | undefined;
    let origin: string | undefined;
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      const value = raw[i + 1] as string;
      if (name === "host") host ??= value;
      else if (name === "cookie") cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      else if (name === "origin") origin ??= value;
      else if (name === "content-length") contentLength ??= value;
      else if (name === "transfer-encoding") transferEncoding ??= value;
    }
    const relayOwn = info.url.startsWith("/__drydock/");
    const method = HTTPParser.methods[info.method] ?? "GET";
    if (firstBytes) {
      sessionId = relayOwn ? undefined : hooks.sessionOf(host);
      const bodiless =
        !info.upgrade && contentLength === undefined && transferEncoding === undefined;
      const own = relayOwn && bodiless ? hooks.answer(host, method, info.url) : undefined;
      if (own) {
        // 2: the request ends with its head, and the parser stops here; what follows waits for the answer.
        answerHere(own, info.shouldKeepAlive);
        return 2;
      }
      if (!sessionId) {
        const bytes = Buffer.concat(firstBytes);
        firstBytes = undefined;
        socket.removeListener("end", onEnd);
        socket.removeListener("close", onClose2);
        afterResponses(() => hooks.handOff(socket, bytes));
        return 1;
      }
    } else if (relayOwn || hooks.sessionOf(host) !== sessionId) {
      // Another host or a relay route on a session's connection (a load balancer pooling connections, say):
      // the relay's server takes the connection from this request on, its head replayed as received, with
      // whatever followed it in this read.
      const state = parser as unknown as { chunk: Buffer | null; offset: number };
      const rest = state.chunk ? state.chunk.subarray(state.offset) : Buffer.alloc(0);
      let replay = `${method} ${info.url} HTTP/${info.versionMajor}.${info.versionMinor}\r\n`;
      for (let i = 0; i + 1 < raw.length; i += 2)
        replay += `${raw[i] as string}: ${raw[i + 1] as string}\r\n`;
      const bytes = Buffer.concat([Buffer.from(`${replay}\r\n`, "latin1"), rest]);
      afterResponses(() => hooks.handOff(socket, bytes));
      return 1;
    }
    const session = sessionId as string;
    const refusal =
      contentLength !== undefined && transferEncoding !== undefined
        ? new Refusal(400, "a request with both Content-Length and Transfer-Encoding is refused")
        : transferEncoding !== undefined && transferEncoding.trim().toLowerCase() !== "chunked"
          ? new Refusal(
              400,
              `Transfer-Encoding "${transferEncoding}" is refused: only "chunked" is understood`,
            )
          : hooks.admit(session, cookie, origin, info.upgrade);
    if (refusal) {
      refuse(refusal, kind);
      return 1;
    }
    chunked = !info.upgrade && transferEncoding !== undefined;
    let head = `${method} ${info.url} HTTP/${info.versionMajor}.${info.versionMinor}\r\n`;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      const lower = name.toLowerCase();
      if (FRAMING.has(lower)) continue;
      const value = hooks.rewrite(lower, raw[i + 1] as string);
      if (value !== null) head += `${name}: ${value}\r\n`;
    }
    if (chunked) head += "Transfer-Encoding: chunked\r\n";
    else if (contentLength !== undefined) head += `Content-Length: ${Number(contentLength)}\r\n`;
    send(Buffer.from(`${head}\r\n`, "latin1"));
    upgraded = info.upgrade;
    hooks.forwarded(kind);
    if (firstBytes) {
      firstBytes = undefined;
      hooks.signedIn(socket);
      opening = true;
      socket.pause();
      hooks.open(session, host ?? session, socket, attach, (why) => {
        opening = false;
        pending = [];
        finish = undefined;
        refuse(why, kind);
      });
    }
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer, offset: number, length: number) => {
    if (done) return;
    const body = chunk.subarray(offset, offset + length);
    send(
      chunked
        ? Buffer.concat([Buffer.from(`${length.toString(16)}\r\n`), body, Buffer.from("\r\n")])
        : body,
    );
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    inHead = true;
    headBefore = 0;
    headStart = cursor.offset;
    if (!done && chunked) send(Buffer.from("0\r\n\r\n"));
  };

  /** The byte stream is open: what was parsed meanwhile goes first, then responses flow back untouched. */
  function attach(opened: ClientHttp2Stream) {
    opening = false;
    if (socket.destroyed) {
      opened.close(NGHTTP2_CANCEL);
      return;
    }
    stream = opened;
    for (const buffer of pending) stream.write(buffer);
    pending = [];
    if (socketEnded || finish) stream.end();
    let stopCopy = () => {};
    const onStreamEnd = () => {
      if (!finish) return void socket.end();
      const action = finish;
      finish = undefined;
      detach();
      action();
    };
    const onResponse = (h2: { ":status"?: number }) => {
      if (h2[":status"] !== 200) {
        detach();
        stream = undefined;
        return refuse(new Refusal(503, "the task's IDE is not answering"), "http");
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
    detach = () => {
      stopCopy();
      opened.off("response", onResponse);
      opened.off("error", onError);
      opened.off("close", onClose);
      opened.on("error", () => undefined);
      if (!opened.closed) opened.close(NGHTTP2_CANCEL);
      socket.removeListener("end", onEnd);
      socket.removeListener("close", onClose2);
    };
    if (!done) socket.resume();
  }

  function onData(chunk: Buffer) {
    if (upgraded) {
      // After an upgrade the connection belongs to the application: its bytes pass as they are.
      send(chunk);
      return;
    }
    firstBytes?.push(chunk);
    headStart = 0;
    const parsed = parser.execute(chunk);
    if (done) return;
    if (parsed instanceof Error)
      return refuse(new Refusal(400, `malformed request: ${parsed.message}`), "http");
    if (answering) {
      answering.rest = chunk.subarray(parsed);
      return;
    }
    if (upgraded && parsed < chunk.length) send(chunk.subarray(parsed));
    if (!upgraded && inHead) {
      headBefore += parsed - headStart;
      if (headBefore > hooks.maxHeaderSize) refuse(tooLarge(hooks.maxHeaderSize), "http");
    }
  }
  function onEnd() {
    socketEnded = true;
    if (stream && !stream.writableEnded) stream.end();
    else if (!stream && !opening && !answering) socket.end();
  }
  function onClose2() {
    if (stream && !stream.closed) stream.close(NGHTTP2_CANCEL);
  }

  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("error", destroyOnError);
  socket.on("close", onClose2);
}

function tooLarge(limit: number): Refusal {
  return new Refusal(
    431,
    `the request head is larger than the ${limit / 1024} KB the relay accepts`,
  );
}

/** Kept outside `serveConnection`, so that a connection handed off keeps none of its state alive. */
function destroyOnError(this: Socket) {
  this.destroy();
}
