/**
 * The agent's end of a tunnel: dials the relay, upgrades to the tunnel protocol, serves the relay's HTTP/2
 * streams by forwarding them to one upstream on loopback (code-server), and dials again, with backoff and
 * jitter, whenever the connection is lost.
 */
import { EventEmitter } from "node:events";
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
} from "node:http";
import { request as httpsRequest } from "node:https";
import {
  performServerHandshake,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { Duplex } from "node:stream";

import {
  DEFAULT_TUNING,
  endToEndHeaders,
  h2Settings,
  NGHTTP2_CANCEL,
  NGHTTP2_INTERNAL_ERROR,
  REPLACED_GOAWAY,
  TUNNEL_PATH,
  TUNNEL_PROTOCOL,
  withoutPseudo,
  type TunnelTuning,
} from "./protocol.js";
import { copyCorked } from "./copy.js";

export type UpstreamTarget = { host: string; port: number } | { socketPath: string };

export interface TunnelClientOptions {
  /** The relay's address as dialled (http: or https:). */
  relayUrl: string;
  /** The session's host (`<session>.<ide-host>`), sent as Host. */
  host: string;
  /** The attempt-scoped agent token. */
  token: string;
  /** Where the relay's streams go: code-server on loopback, or a Unix socket. */
  target: UpstreamTarget;
  tuning?: Partial<TunnelTuning>;
  /** First reconnect delay; doubles per failure up to `maxBackoffMs`, with full jitter. Reset once connected. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** With no word from the relay (its PINGs, its streams, answers to ours) for this long, the connection is presumed dead and re-dialled. */
  silenceTimeoutMs?: number;
  /**
   * The agent PINGs the relay this often too, and re-dials when a PING goes unanswered for as long: a tunnel
   * its own HTTP/2 layer gave up on (after sending GOAWAY) is noticed in seconds, not at the silence timeout.
   */
  pingIntervalMs?: number;
  /**
   * Asked when the relay says a newer connection for this session replaced ours: true if this client is still
   * the one that should carry the session (the control plane says its attempt and session are live), and it
   * dials again; false, or absent, and it stops. Whoever else holds the token cannot take the session away.
   */
  stillOurs?: () => Promise<boolean>;
  /** Extra TLS options for https relays (a private CA, say). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

export type TunnelState = "connecting" | "connected" | "reconnecting" | "refused" | "closed";

/**
 * Why the relay refused us for good: 401/403, the token is not (or no longer) good for this session; 409,
 * a newer connection for the same session replaced ours.
 */
export class TunnelRefusedError extends Error {
  override name = "TunnelRefusedError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Events: `state` on every change; `connected` each time a tunnel is up; `disconnected` with the reason each
 * time one is lost; `retrying` with why and when before each new dial; `refused` with a TunnelRefusedError when the relay says no for good (the client stops).
 */
export class TunnelClient extends EventEmitter<{
  state: [TunnelState];
  connected: [];
  disconnected: [reason: string];
  retrying: [reason: string, delayMs: number];
  refused: [TunnelRefusedError];
}> {
  private current: { session?: ServerHttp2Session; request?: ClientRequest; socket?: Duplex } = {};
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stateValue: TunnelState = "connecting";
  private readonly upstreamAgent = new HttpAgent({ keepAlive: true, maxFreeSockets: 64 });
  private readonly tuning: TunnelTuning;
  private streamsOpened = 0;
  private streamsOpen = 0;
  /** Since when no tunnel is up (undefined while one is). */
  private downSince: number | undefined = Date.now();

  constructor(private readonly options: TunnelClientOptions) {
    super();
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    this.dial();
  }

  get state(): TunnelState {
    return this.stateValue;
  }

  /** Resolves when a tunnel is up (at once if it is); rejects if the relay refuses or the client is closed. */
  whenConnected(): Promise<void> {
    if (this.stateValue === "connected") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (state: TunnelState) => {
        if (state === "connected") done(resolve);
        else if (state === "closed") done(() => reject(new Error("the tunnel client was closed")));
      };
      const onRefused = (error: TunnelRefusedError) => done(() => reject(error));
      const done = (settle: () => void) => {
        this.off("state", onState);
        this.off("refused", onRefused);
        settle();
      };
      this.on("state", onState);
      this.on("refused", onRefused);
    });
  }

  /**
   * How much the tunnel is used: streams (browser connections and requests) opened since the client started,
   * and open now. An idle check compares `opened` between two looks and treats any open stream as activity.
   */
  activity(): { opened: number; open: number } {
    return { opened: this.streamsOpened, open: this.streamsOpen };
  }

  /** How long no tunnel has been up: 0 while one is, else since the client started or the last one was lost. */
  downForMs(): number {
    return this.downSince === undefined ? 0 : Date.now() - this.downSince;
  }

  /** Stops dialling and closes the tunnel; streams in flight are reset. */
  async close(): Promise<void> {
    this.setState("closed");
    clearTimeout(this.retryTimer);
    const { session, request, socket } = this.current;
    this.current = {};
    request?.destroy();
    if (session && !session.destroyed) {
      await new Promise<void>((resolve) => {
        session.close(resolve);
        setTimeout(() => {
          session.destroy();
          resolve();
        }, 1_000).unref();
      });
    }
    socket?.destroy();
    this.upstreamAgent.destroy();
  }

  private setState(state: TunnelState) {
    if (this.stateValue === state || this.stateValue === "closed") return;
    if (state === "connected") this.downSince = undefined;
    else this.downSince ??= Date.now();
    this.stateValue = state;
    this.emit("state", state);
  }

  private dial() {
    if (this.stateValue === "closed" || this.stateValue === "refused") return;
    const url = new URL(TUNNEL_PATH, this.options.relayUrl);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const request = send(url, {
      method: "GET",
      headers: {
        connection: "Upgrade",
        upgrade: TUNNEL_PROTOCOL,
        host: this.options.host,
        authorization: `Bearer ${this.options.token}`,
      },
      // The relay is verified as the host dialled, not the session host sent as Host.
      ...(url.protocol === "https:"
        ? {
            ...(isIP(url.hostname) ? {} : { servername: url.hostname }),
            checkServerIdentity: (_host: string, cert: PeerCertificate) =>
              checkServerIdentity(url.hostname, cert),
            ...this.options.tls,
          }
        : {}),
      timeout: 10_000,
    });
    this.current = { request };
    request.on("upgrade", (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.stateValue === "closed") {
        socket.destroy();
        return;
      }
      if (res.headers.upgrade?.toLowerCase() !== TUNNEL_PROTOCOL) {
        socket.destroy();
        this.lost(`relay upgraded to ${res.headers.upgrade ?? "nothing"}, not ${TUNNEL_PROTOCOL}`);
        return;
      }
      this.serve(socket, head);
    });
    request.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 2_000) body += chunk;
      });
      res.on("end", () => {
        const message = `relay answered ${res.statusCode}: ${body.trim() || res.statusMessage}`;
        if (res.statusCode === 401 || res.statusCode === 403)
          this.refuse(new TunnelRefusedError(res.statusCode, message));
        else this.lost(message);
      });
      res.on("error", () => this.lost(`relay answered ${res.statusCode}`));
    });
    request.on("timeout", () => request.destroy(new Error("relay did not answer within 10 s")));
    request.on("error", (error) => this.lost(`cannot reach the relay: ${error.message}`));
    request.end();
  }

  private serve(socket: Socket, head: Buffer) {
    if (head.length > 0) socket.unshift(head);
    socket.setNoDelay(true);
    const session = performServerHandshake(socket, {
      settings: h2Settings(this.tuning),
      maxSessionMemory: this.tuning.maxSessionMemoryMb,
      maxHeaderListPairs: 256,
      maxSettings: 32,
    });
    this.current = { session, socket };
    session.on("connect", () => session.setLocalWindowSize(this.tuning.connectionWindow));
    let lostReason = "relay closed the tunnel";
    session.on("error", (error: Error) => (lostReason = `tunnel error: ${error.message}`));
    socket.on("error", (error) => (lostReason = `tunnel connection error: ${error.message}`));
    session.on("goaway", (_code: number, _lastStreamId: number, opaque?: Buffer) => {
      if (opaque?.toString() === REPLACED_GOAWAY) this.replaced();
      else lostReason = "relay sent GOAWAY";
    });
    session.on("stream", (stream, headers) => this.onStream(stream, headers));
    const pinger = this.watchLiveness(session);
    session.on("close", () => {
      clearInterval(pinger);
      socket.destroy();
      if (this.current.session === session) this.lost(lostReason);
    });
    this.failures = 0;
    this.setState("connected");
    this.emit("connected");
  }

  /**
   * Liveness is judged on the HTTP/2 session, never on the raw socket: once HTTP/2 has taken the socket over,
   * Node reads it natively and the socket's own idle timer never sees the traffic, so a socket timeout fires
   * on a busy tunnel as surely as on a dead one. The agent PINGs the relay every `pingIntervalMs` and gives
   * up on an unanswered PING after as long; the relay's own PINGs, its streams and our PING answers count as
   * word from it, and `silenceTimeoutMs` without any ends the tunnel too.
   */
  private watchLiveness(session: ServerHttp2Session): NodeJS.Timeout {
    const pingEvery = this.options.pingIntervalMs ?? 15_000;
    const silence = this.options.silenceTimeoutMs ?? 45_000;
    let lastHeard = Date.now();
    const heard = () => (lastHeard = Date.now());
    session.on("ping", heard);
    session.on("stream", heard);
    const pinger = setInterval(() => {
      if (Date.now() - lastHeard > silence)
        return void session.destroy(new Error(`no word from the relay for ${silence} ms`));
      const timer = setTimeout(
        () => session.destroy(new Error(`the relay did not answer a PING within ${pingEvery} ms`)),
        pingEvery,
      );
      timer.unref();
      try {
        session.ping((error) => {
          clearTimeout(timer);
          if (error) session.destroy(error);
          else heard();
        });
      } catch (error) {
        clearTimeout(timer);
        session.destroy(error as Error);
      }
    }, pingEvery);
    pinger.unref();
    return pinger;
  }

  private lost(reason: string) {
    if (this.stateValue === "closed" || this.stateValue === "refused") return;
    const wasConnected = this.stateValue === "connected";
    this.current = {};
    if (wasConnected) this.emit("disconnected", reason);
    this.setState("reconnecting");
    const initial = this.options.initialBackoffMs ?? 100;
    const cap = this.options.maxBackoffMs ?? 5_000;
    const ceiling = Math.min(cap, initial * 2 ** this.failures);
    this.failures++;
    // Full jitter: a relay restart must not be met by every agent at the same instant.
    const delay = Math.max(10, Math.random() * ceiling);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.dial(), delay);
    this.emit("retrying", reason, delay);
  }

  /** A newer connection for the session took our place: dial again if we are still the session's, else stop. */
  private replaced() {
    const stop = () =>
      this.refuse(
        new TunnelRefusedError(
          409,
          "a newer connection for this session replaced this one; this client stops",
        ),
      );
    const ask = this.options.stillOurs;
    if (!ask) return stop();
    // Detached first, so the closing session does not count as an ordinary loss while the question is out.
    this.current = {};
    this.setState("reconnecting");
    this.emit("disconnected", "another connection for this session replaced the tunnel");
    ask().then(
      (ours) =>
        ours
          ? this.lost("replaced by another connection, but this client still holds the session")
          : stop(),
      (error: Error) =>
        this.lost(
          `replaced by another connection; could not ask whether the session is still ours (${error.message})`,
        ),
    );
  }

  private refuse(error: TunnelRefusedError) {
    if (this.stateValue === "closed") return;
    this.current = {};
    this.setState("refused");
    this.emit("refused", error);
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders) {
    this.streamsOpened++;
    this.streamsOpen++;
    stream.once("close", () => this.streamsOpen--);
    stream.on("error", () => stream.destroy());
    if (headers[":method"] === "CONNECT") this.forwardConnect(stream);
    else this.forwardRequest(stream, headers);
  }

  /** One browser request: replayed to the upstream over a kept-alive HTTP/1.1 connection. */
  private forwardRequest(stream: ServerHttp2Stream, headers: IncomingHttpHeaders) {
    const target = this.options.target;
    const upstream = httpRequest({
      ...("socketPath" in target
        ? { socketPath: target.socketPath }
        : { host: target.host, port: target.port }),
      agent: this.upstreamAgent,
      method: headers[":method"],
      path: headers[":path"],
      headers: { ...withoutPseudo(headers), host: headers[":authority"] ?? "localhost" },
    });
    upstream.on("response", (res) => {
      if (stream.destroyed) {
        res.destroy();
        return;
      }
      try {
        stream.respond({ ...endToEndHeaders(res.rawHeaders), ":status": res.statusCode ?? 502 });
      } catch {
        res.destroy();
        return;
      }
      res.pipe(stream);
      res.on("error", () => stream.close(NGHTTP2_INTERNAL_ERROR));
      res.on("aborted", () => stream.close(NGHTTP2_INTERNAL_ERROR));
    });
    upstream.on("error", (error) => {
      if (stream.destroyed) return;
      if (!stream.headersSent) {
        stream.respond({ ":status": 502, "content-type": "text/plain; charset=utf-8" });
        stream.end(`the task's IDE is not answering: ${error.message}\n`);
      } else stream.close(NGHTTP2_INTERNAL_ERROR);
    });
    stream.on("close", () => {
      if (stream.rstCode !== 0) upstream.destroy();
    });
    copyCorked(stream, upstream, () => upstream.socket);
  }

  /** One browser upgrade: a raw byte stream to the upstream. */
  private forwardConnect(stream: ServerHttp2Stream) {
    const target = this.options.target;
    const upstream =
      "socketPath" in target ? netConnect(target.socketPath) : netConnect(target.port, target.host);
    upstream.setNoDelay(true);
    upstream.on("connect", () => {
      if (stream.destroyed) {
        upstream.destroy();
        return;
      }
      stream.respond({ ":status": 200 });
      upstream.pipe(stream);
      stream.pipe(upstream);
    });
    upstream.on("error", () => {
      if (stream.destroyed) return;
      if (!stream.headersSent) stream.respond({ ":status": 502 }, { endStream: true });
      else stream.close(NGHTTP2_INTERNAL_ERROR);
    });
    upstream.on("close", () => {
      if (!stream.closed && !stream.writableEnded) stream.close(NGHTTP2_CANCEL);
    });
    stream.on("close", () => upstream.destroy());
  }
}

/** Opens a tunnel for one session; see TunnelClient. */
export function openTunnel(options: TunnelClientOptions): TunnelClient {
  return new TunnelClient(options);
}
