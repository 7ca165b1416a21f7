/**
 * The relay's end of a tunnel: an HTTP/2 client session over the agent's upgraded connection. The relay calls
 * `forwardRequest` for each browser request and `forwardUpgrade` for each browser upgrade.
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { Socket } from "node:net";
import type { Duplex } from "node:stream";

import {
  DEFAULT_TUNING,
  endToEndHeaders,
  h2Settings,
  headerPairs,
  NGHTTP2_CANCEL,
  REPLACED_GOAWAY,
  TUNNEL_PROTOCOL,
  withoutPseudo,
  type TunnelTuning,
} from "./protocol.js";
import { copyCorked } from "./copy.js";

export interface RelayTunnelOptions {
  tuning?: Partial<TunnelTuning>;
  /** How often the relay PINGs the agent; a PING unanswered for as long closes the tunnel. */
  pingIntervalMs?: number;
  /** Rewrites or drops a browser request header before it crosses (the relay strips its own cookie). Null drops it. */
  rewriteRequestHeader?: (name: string, value: string) => string | null;
}

export interface TunnelStats {
  /** Streams open now, HTTP and upgraded. */
  streams: number;
  /** Bytes read from and written to the agent's connection. */
  bytesFromAgent: number;
  bytesToAgent: number;
}

/**
 * Events: `close` (once, with the reason) when the tunnel is gone for any cause: the agent hung up, a
 * protocol error (malformed or truncated frames), a missed PING, or `close()`.
 */
export class RelayTunnel extends EventEmitter<{ close: [reason: string] }> {
  private readonly session: ClientHttp2Session;
  private readonly pingTimer: NodeJS.Timeout | undefined;
  private closedReason: string | undefined;
  private openStreams = 0;

  private constructor(
    private readonly socket: Duplex & { bytesRead?: number; bytesWritten?: number },
    private readonly options: RelayTunnelOptions,
  ) {
    super();
    const tuning = { ...DEFAULT_TUNING, ...options.tuning };
    this.session = connect("http://tunnel", {
      createConnection: () => socket,
      settings: h2Settings(tuning),
      maxSessionMemory: tuning.maxSessionMemoryMb,
      maxHeaderListPairs: 256,
      maxOutstandingPings: 2,
      maxSettings: 32,
    });
    this.session.on("connect", () => this.session.setLocalWindowSize(tuning.connectionWindow));
    this.session.on("error", (error: Error) => this.shutdown(`tunnel error: ${error.message}`));
    this.session.on("goaway", () => this.shutdown("agent sent GOAWAY"));
    this.session.on("close", () => this.shutdown("tunnel closed"));
    this.session.on("frameError", (_type, code) => this.shutdown(`frame error ${code}`));
    socket.on("error", (error) => this.shutdown(`socket error: ${error.message}`));
    socket.on("close", () => this.shutdown("agent connection closed"));
    const pingInterval = options.pingIntervalMs ?? 15_000;
    this.pingTimer = setInterval(() => this.ping(pingInterval), pingInterval);
    this.pingTimer.unref();
  }

  /**
   * Completes the agent's upgrade request on `socket` (the caller has already authenticated it) and starts
   * HTTP/2 over it once the 101 is written (HTTP/2 must not take over a TLS socket with a write in flight).
   * `head` is whatever the agent sent after its request head.
   */
  static accept(
    socket: Duplex,
    head: Buffer,
    options: RelayTunnelOptions = {},
  ): Promise<RelayTunnel> {
    return new Promise((resolve, reject) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_PROTOCOL}\r\n\r\n`,
        (error) => {
          if (error || socket.destroyed) {
            socket.destroy();
            reject(error ?? new Error("the agent hung up during the upgrade"));
            return;
          }
          if (head.length > 0) socket.unshift(head);
          if ("setNoDelay" in socket && typeof socket.setNoDelay === "function")
            (socket.setNoDelay as (v: boolean) => void)(true);
          resolve(new RelayTunnel(socket, options));
        },
      );
    });
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  stats(): TunnelStats {
    return {
      streams: this.openStreams,
      bytesFromAgent: this.socket.bytesRead ?? 0,
      bytesToAgent: this.socket.bytesWritten ?? 0,
    };
  }

  /** Sends one browser request through the tunnel and its response back, both bodies streamed. */
  forwardRequest(req: IncomingMessage, res: ServerResponse): void {
    const headers = endToEndHeaders(req.rawHeaders, this.options.rewriteRequestHeader);
    const hasBody =
      req.headers["content-length"] !== undefined
        ? req.headers["content-length"] !== "0"
        : req.headers["transfer-encoding"] !== undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = this.session.request(
        {
          ...headers,
          ":method": req.method ?? "GET",
          ":path": req.url ?? "/",
          ":authority": req.headers.host ?? "tunnel",
          ":scheme": "http",
        },
        { endStream: !hasBody },
      );
    } catch (error) {
      sendError(res, 502, `the tunnel refused the request: ${(error as Error).message}`);
      return;
    }
    this.track(stream);
    stream.on("response", (h2) => {
      const status = Number(h2[":status"]);
      res.writeHead(status, withoutPseudo(h2));
      if (req.method === "HEAD" || status === 204 || status === 304) {
        res.end();
        stream.resume();
      } else copyCorked(stream, res, () => res.socket);
    });
    stream.on("error", () => {
      if (!res.headersSent) sendError(res, 502, "the task's tunnel dropped the request");
      else res.destroy();
    });
    stream.on("close", () => {
      if (!res.headersSent) sendError(res, 502, "the task's tunnel closed the request");
      // A stream closed before its end (reset, or its tunnel gone: a session destroyed without an error leaves
      // rstCode 0) can never finish this response: close the browser's connection, which it retries, rather
      // than leave it waiting for bytes that will not come.
      else if (!res.writableFinished && !stream.readableEnded) res.destroy();
    });
    res.on("close", () => {
      // Only a browser that left mid-response cancels its stream. A finished exchange closes by itself: a
      // RST_STREAM per request would trip nghttp2's rapid-reset guard, and the agent would end the tunnel.
      if (!res.writableFinished && !stream.closed) stream.close(NGHTTP2_CANCEL);
    });
    if (hasBody) {
      req.pipe(stream);
      req.on("error", () => stream.close(NGHTTP2_CANCEL));
    }
  }

  /**
   * Opens a byte stream to the agent's upstream (an HTTP/2 `CONNECT` stream): what is written to it reaches
   * code-server as written, and what code-server answers comes back as it is. The caller owns the stream's
   * ending. Throws if the tunnel cannot open another stream now.
   */
  openConnection(authority: string): ClientHttp2Stream {
    const stream = this.session.request({ ":method": "CONNECT", ":authority": authority });
    this.track(stream);
    return stream;
  }

  /** The status the agent's upstream answers a GET of `path` with, through this tunnel; undefined if none. */
  probe(path: string, authority: string, timeoutMs = 5_000): Promise<number | undefined> {
    return new Promise((resolve) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.session.request(
          { ":method": "GET", ":path": path, ":authority": authority },
          { endStream: true },
        );
      } catch {
        return resolve(undefined);
      }
      const timer = setTimeout(() => stream.close(NGHTTP2_CANCEL), timeoutMs);
      stream.on("response", (h2) => resolve(Number(h2[":status"])));
      stream.on("error", () => resolve(undefined));
      stream.on("close", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      stream.resume();
    });
  }

  /**
   * Sends one browser upgrade (WebSocket) through the tunnel as a byte stream: the browser's request head
   * first, then bytes both ways until either side closes.
   */
  forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    let stream: ClientHttp2Stream;
    try {
      stream = this.openConnection(req.headers.host ?? "tunnel");
    } catch {
      socket.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    stream.write(requestHead(req, this.options.rewriteRequestHeader));
    if (head.length > 0) stream.write(head);
    spliceConnection(socket, stream);
  }

  /** Closes the tunnel: open streams are reset and the agent's connection ends. */
  close(reason = "closed by the relay"): void {
    this.shutdown(reason);
  }

  /**
   * Closes the tunnel because a newer connection for the same session took its place, telling the agent
   * so (GOAWAY with REPLACED_GOAWAY), so that two agents holding one session do not take turns forever.
   */
  replace(): void {
    if (this.closed) return;
    try {
      this.session.goaway(constants.NGHTTP2_NO_ERROR, 0, Buffer.from(REPLACED_GOAWAY));
    } catch {
      // the session is already going
    }
    setTimeout(() => this.shutdown("replaced by the agent's new connection"), 100).unref();
  }

  private track(stream: ClientHttp2Stream) {
    this.openStreams++;
    stream.once("close", () => this.openStreams--);
  }

  private ping(timeoutMs: number) {
    if (this.closed) return;
    const timer = setTimeout(() => this.shutdown("agent missed a PING"), timeoutMs);
    timer.unref();
    try {
      this.session.ping((error) => {
        clearTimeout(timer);
        if (error) this.shutdown(`PING failed: ${error.message}`);
      });
    } catch (error) {
      clearTimeout(timer);
      this.shutdown(`PING failed: ${(error as Error).message}`);
    }
  }

  private shutdown(reason: string) {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearInterval(this.pingTimer);
    if (!this.session.destroyed) this.session.destroy();
    this.socket.destroy();
    this.emit("close", reason);
  }
}

/**
 * Joins a browser socket and a tunnel byte stream until either side closes: the agent's refusal to reach
 * its upstream (a non-200 answer) becomes a 502 for the browser.
 */
export function spliceConnection(socket: Duplex, stream: ClientHttp2Stream): void {
  stream.on("response", (h2) => {
    if (h2[":status"] !== 200) {
      socket.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      stream.close(NGHTTP2_CANCEL);
      return;
    }
    copyCorked(stream, socket, () => (socket instanceof Socket ? socket : null));
  });
  socket.pipe(stream);
  if (socket instanceof Socket) socket.setNoDelay(true);
  const teardown = () => {
    if (!stream.closed) stream.close(NGHTTP2_CANCEL);
    socket.destroy();
  };
  stream.on("error", teardown);
  stream.on("close", () => {
    if (!stream.readableEnded) socket.destroy();
  });
  socket.on("error", teardown);
  socket.on("close", () => {
    if (!stream.closed) stream.close(NGHTTP2_CANCEL);
  });
}

function sendError(res: ServerResponse, status: number, message: string) {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
  });
  res.end(`${message}\n`);
}

/** The browser's HTTP/1.1 request head, as the upstream will read it (header case and order kept). */
function requestHead(
  req: IncomingMessage,
  rewrite?: (name: string, value: string) => string | null,
): string {
  let head = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1\r\n`;
  for (const [name, rawValue] of headerPairs(req.rawHeaders)) {
    const value = rewrite ? rewrite(name.toLowerCase(), rawValue) : rawValue;
    if (value !== null) head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}
