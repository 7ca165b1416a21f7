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
import type { Socket } from "node:net";

import { HTTPParser, type HeaderInfo } from "http-parser-js";

import { Refusal } from "../authority.js";
import { rawAnswer, type OwnAnswer } from "../pages.js";
import { forwardedBody, forwardedHead, lastChunk } from "./forward.js";
import { replayedRequest } from "./hand-off.js";
import type { SessionGrant } from "../cookies.js";
import { admitHead } from "./head-admission.js";
import { HeadSizeMeter } from "./head-size.js";
import type { ConnectionHooks, RequestKind } from "./hooks.js";
import { parsedOffset, unparsedRest } from "./parser-position.js";
import { headerValue, RequestHead } from "./request-head.js";
import { TunnelStream, type StreamOwner } from "./tunnel-stream.js";

const OWN_PATH_PREFIX = "/__drydock/";

/** What the parser does after a head: 0 reads its body, 1 skips it, 2 stops after the head. */
type AfterHead = 0 | 1 | 2;

export function serveConnection(socket: Socket, hooks: ConnectionHooks): void {
  new FastPathConnection(socket, hooks).listen();
}

/**
 * One connection on the fast path. Its state lives here, and its handlers are bound once, when it opens:
 * a request costs no closure of its own.
 */
class FastPathConnection implements StreamOwner {
  private readonly parser = new HTTPParser(HTTPParser.REQUEST);
  private readonly head = new RequestHead();
  private readonly headSize: HeadSizeMeter;
  private readonly tunnel: TunnelStream;
  /** The session of the connection's first request: every later request must be for it too. */
  private sessionId: string | undefined;
  /** The grant of the last admitted request: the relay hears of the connection again only when it changes. */
  private grant: SessionGrant | undefined;
  /** What was read before the first request head was understood, kept for a hand-off. */
  private firstBytes: Buffer[] | undefined = [];
  private chunked = false;
  private upgraded = false;
  /** An answer of the relay's own is being prepared: reading waits, and what followed its request is kept. */
  private answering: { rest: Buffer } | undefined;
  done = false;
  socketEnded = false;

  constructor(
    readonly socket: Socket,
    private readonly hooks: ConnectionHooks,
  ) {
    this.headSize = new HeadSizeMeter(hooks.maxHeaderSize);
    this.tunnel = new TunnelStream(this);
    // The head's size is measured by `headSize`, not by the parser (see HeadSizeMeter).
    this.parser.maxHeaderSize = Number.POSITIVE_INFINITY;
    this.parser[HTTPParser.kOnHeadersComplete] = this.onHeadersComplete;
    this.parser[HTTPParser.kOnBody] = this.onBody;
    this.parser[HTTPParser.kOnMessageComplete] = this.onMessageComplete;
  }

  listen(): void {
    this.socket.on("data", this.onData);
    this.socket.on("end", this.onEnd);
    this.socket.on("error", destroyOnError);
    this.socket.on("close", this.onClose);
  }

  refuse(refusal: Refusal, kind: RequestKind): void {
    this.afterResponses(() => this.hooks.refuse(this.socket, refusal, kind));
  }

  forgetSocket(): void {
    this.socket.removeListener("end", this.onEnd);
    this.socket.removeListener("close", this.onClose);
  }

  /** Stops reading requests; once those already sent are answered, `action` takes over the connection. */
  private afterResponses(action: () => void): void {
    this.done = true;
    this.socket.removeListener("data", this.onData);
    this.socket.pause();
    this.tunnel.afterResponses(action);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.upgraded) {
      // After an upgrade the connection belongs to the application: its bytes pass as they are.
      this.tunnel.send(chunk);
      return;
    }
    this.firstBytes?.push(chunk);
    this.headSize.readBegins();
    const parsed = this.parser.execute(chunk);
    if (this.done) return;
    if (parsed instanceof Error)
      return this.refuse(new Refusal(400, `malformed request: ${parsed.message}`), "http");
    if (this.answering) {
      this.answering.rest = chunk.subarray(parsed);
      return;
    }
    if (this.upgraded && parsed < chunk.length) this.tunnel.send(chunk.subarray(parsed));
    if (!this.upgraded && this.headSize.readEnds(parsed))
      this.refuse(this.headSize.refusal(), "http");
  };

  private readonly onEnd = (): void => {
    this.socketEnded = true;
    if (!this.tunnel.idle) this.tunnel.endRequests();
    else if (!this.answering) this.socket.end();
  };

  private readonly onClose = (): void => {
    this.tunnel.cancel();
  };

  private readonly onHeadersComplete = (info: HeaderInfo): AfterHead => {
    if (this.done) return 1;
    const kind = info.upgrade ? "upgrade" : "http";
    if (this.headSize.headEnds(parsedOffset(this.parser))) {
      this.refuse(this.headSize.refusal(), kind);
      return 1;
    }
    this.head.read(info.headers);
    const relayOwn = info.url.startsWith(OWN_PATH_PREFIX);
    const method = HTTPParser.methods[info.method] ?? "GET";
    if (this.firstBytes) {
      const taken = this.takeFirst(this.firstBytes, info, method, relayOwn);
      if (taken !== undefined) return taken;
    } else if (relayOwn || this.hooks.sessionOf(this.head.host) !== this.sessionId) {
      // Another host or a relay route on a session's connection (a load balancer pooling connections, say):
      // the relay's server takes the connection from this request on, its head replayed as received, with
      // whatever followed it in this read.
      const bytes = replayedRequest(method, info, unparsedRest(this.parser));
      this.afterResponses(() => this.hooks.handOff(this.socket, bytes));
      return 1;
    }
    return this.forward(info, method, kind);
  };

  private readonly onBody = (chunk: Buffer, offset: number, length: number): void => {
    if (this.done) return;
    this.tunnel.send(forwardedBody(chunk, offset, length, this.chunked));
  };

  private readonly onMessageComplete = (): void => {
    this.headSize.messageEnds(parsedOffset(this.parser));
    if (!this.done && this.chunked) this.tunnel.send(lastChunk());
  };

  /**
   * A connection's first request decides who serves it: the relay answers its own route here, hands a
   * connection not for a session to its HTTP server, or (undefined) forwards the request to the session.
   */
  private takeFirst(
    firstBytes: Buffer[],
    info: HeaderInfo,
    method: string,
    relayOwn: boolean,
  ): AfterHead | undefined {
    this.sessionId = relayOwn ? undefined : this.hooks.sessionOf(this.head.host);
    const bodiless =
      !info.upgrade &&
      this.head.contentLength === undefined &&
      this.head.transferEncoding === undefined;
    const own =
      relayOwn && bodiless
        ? this.hooks.answer(this.head.host, method, info.url, {
            ip: this.socket.remoteAddress,
            userAgent: headerValue(info.headers, "user-agent"),
          })
        : undefined;
    if (own) {
      // 2: the request ends with its head, and the parser stops here; what follows waits for the answer.
      this.answerHere(own, info.shouldKeepAlive);
      return 2;
    }
    if (this.sessionId) return undefined;
    const bytes = Buffer.concat(firstBytes);
    this.firstBytes = undefined;
    this.forgetSocket();
    this.afterResponses(() => this.hooks.handOff(this.socket, bytes));
    return 1;
  }

  /** Admits a request for the connection's session and sends it through the tunnel, opened by the first. */
  private forward(info: HeaderInfo, method: string, kind: RequestKind): AfterHead {
    const session = this.sessionId as string;
    const admitted = admitHead(this.head, session, info.upgrade, this.hooks);
    if (admitted instanceof Refusal) {
      this.refuse(admitted, kind);
      return 1;
    }
    // A browser sends the same cookie request after request, and its grant is the same object (the signer
    // keeps it): the relay hears of the connection on its first request and when its person changes.
    if (admitted !== this.grant) {
      this.grant = admitted;
      this.hooks.admitted(this.socket, admitted);
    }
    this.chunked = !info.upgrade && this.head.transferEncoding !== undefined;
    this.tunnel.send(forwardedHead(method, info, this.head, this.chunked, this.hooks));
    this.upgraded = info.upgrade;
    this.hooks.forwarded(kind);
    if (this.firstBytes) {
      this.firstBytes = undefined;
      this.hooks.signedIn(this.socket);
      this.tunnel.open(this.hooks, session, this.head.host ?? session, kind);
    }
    return 0;
  }

  /**
   * Writes an answer of the relay's own, then reads on: the next request is again a connection's first,
   * so the IDE's first page after the redemption's redirect takes the fast path on this same connection.
   */
  private answerHere(answer: Promise<OwnAnswer>, keepAlive: boolean): void {
    this.answering = { rest: Buffer.alloc(0) };
    this.socket.pause();
    this.hooks.headArrived(this.socket);
    answer.then(
      (own) => this.answered(own, keepAlive),
      () => this.socket.destroy(),
    );
  }

  private answered(own: OwnAnswer, keepAlive: boolean): void {
    const rest = this.answering?.rest ?? Buffer.alloc(0);
    this.answering = undefined;
    if (this.socket.destroyed) return;
    const close = !keepAlive || this.socketEnded;
    this.socket.write(rawAnswer(own, close));
    // Until the connection signs in, its next head (or its closing, after `close`) is on the clock again.
    this.hooks.awaitingHead(this.socket);
    if (close) {
      this.done = true;
      this.socket.removeListener("data", this.onData);
      return void this.socket.end();
    }
    this.firstBytes = [];
    this.socket.resume();
    if (rest.length > 0) this.onData(rest);
  }
}

/** Bound to no connection, so that a connection handed off keeps none of its state alive through it. */
function destroyOnError(this: Socket) {
  this.destroy();
}
