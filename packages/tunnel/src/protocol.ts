/**
 * The tunnel protocol, shared by both ends.
 *
 * 1. The agent dials the relay: `GET /__drydock/tunnel` with `Connection: Upgrade`, `Upgrade: drydock-tunnel/1`,
 *    `Authorization: Bearer <attempt-scoped agent token>` and `Host: <session>.<ide-host>` (so a load balancer
 *    that hashes on Host sends the agent and the session's browsers to the same relay).
 * 2. The relay answers `101 Switching Protocols`; from then on the bare connection (TLS in production) carries
 *    HTTP/2 with the roles reversed: the relay is the HTTP/2 *client* (it opens one stream per browser request)
 *    and the agent is the HTTP/2 *server*. Node's own `http2` (nghttp2) does the multiplexing, per-stream and
 *    per-connection flow control, frame-size limits, PING and GOAWAY.
 * 3. A browser HTTP request becomes one HTTP/2 request stream, headers and streamed body both ways. A browser
 *    upgrade (WebSocket) becomes one HTTP/2 `CONNECT` stream: the relay writes the browser's request head into
 *    it and then both sides copy bytes, so WebSocket frames, pings and close codes pass through untouched.
 *    The agent only ever connects to its own upstream; the `:authority` of a stream cannot redirect it.
 */
import { constants } from "node:http2";

export const TUNNEL_PATH = "/__drydock/tunnel";
export const TUNNEL_PROTOCOL = "drydock-tunnel/1";

/** GOAWAY debug data the relay sends a tunnel another connection for the same session replaced: the agent stops dialling. */
export const REPLACED_GOAWAY = "drydock:replaced";

/** Tunnel close reasons the relay sends in its refusal or GOAWAY; the agent decides whether to retry. */
export const TunnelRefusal = {
  unauthorized: 401,
  forbidden: 403,
  busy: 503,
} as const;

/** HTTP/2 settings both ends use. Windows are sized for throughput; they also bound what a stalled stream can hold. */
export interface TunnelTuning {
  /**
   * Per-stream receive window: a stream carries at most window ÷ round trip, so it is sized for the
   * bandwidth-delay product of a long path (6 MiB: ~1 Gbit/s at 50 ms, Chromium's own HTTP/2 stream window).
   * It is also the most a stalled browser can leave buffered per stream (plus socket buffers).
   */
  streamWindow: number;
  /** Connection receive window; Node credits it on receipt, so stalled streams never starve the others. */
  connectionWindow: number;
  /** Largest DATA frame; frames are the unit of interleaving between streams. */
  maxFrameSize: number;
  /** Streams one tunnel may carry at once (the agent advertises it; the relay also enforces its own per-session cap). */
  maxConcurrentStreams: number;
  /** Largest header block, in bytes. */
  maxHeaderListSize: number;
  /** nghttp2's own memory cap per session, in MB (Node's `maxSessionMemory`). */
  maxSessionMemoryMb: number;
}

export const DEFAULT_TUNING: TunnelTuning = {
  streamWindow: 6 * 1024 * 1024,
  connectionWindow: 16 * 1024 * 1024,
  maxFrameSize: 64 * 1024,
  maxConcurrentStreams: 1000,
  maxHeaderListSize: 64 * 1024,
  maxSessionMemoryMb: 64,
};

export function h2Settings(t: TunnelTuning) {
  return {
    initialWindowSize: t.streamWindow,
    maxFrameSize: t.maxFrameSize,
    maxConcurrentStreams: t.maxConcurrentStreams,
    maxHeaderListSize: t.maxHeaderListSize,
    enablePush: false,
  };
}

/** Connection-specific headers HTTP/2 forbids, and which must never cross a proxy anyway (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "http2-settings",
  "host",
]);

export type HeaderMap = Record<string, string | string[]>;

/**
 * Turns Node's raw header list (name, value, name, value…) into a header map without hop-by-hop headers,
 * without those the `Connection` header names, and without any header `drop` rejects. Repeated headers
 * stay repeated (set-cookie above all).
 */
export function endToEndHeaders(
  raw: string[],
  drop?: (name: string, value: string) => string | null,
): HeaderMap {
  const out: HeaderMap = {};
  let named: Set<string> | undefined;
  for (const [rawName, value] of headerPairs(raw)) {
    if (rawName.toLowerCase() === "connection") {
      named ??= new Set();
      for (const token of value.split(",")) named.add(token.trim().toLowerCase());
    }
  }
  for (const [rawName, rawValue] of headerPairs(raw)) {
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || named?.has(name) || name.startsWith(":")) continue;
    const value = drop ? drop(name, rawValue) : rawValue;
    if (value === null) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

/** Node's raw header list (name, value, name, value…) as pairs, names as sent. */
export function* headerPairs(raw: readonly string[]): Generator<[string, string]> {
  for (let i = 0; i + 1 < raw.length; i += 2) yield [raw[i] as string, raw[i + 1] as string];
}

/** The pseudo-headers removed, for handing an HTTP/2 header block to an HTTP/1.1 message. */
export function withoutPseudo(
  headers: Record<string, string | string[] | number | undefined>,
): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = typeof value === "number" ? String(value) : value;
  }
  return out;
}

export const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM } = constants;
