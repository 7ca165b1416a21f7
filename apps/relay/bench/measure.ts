/**
 * The load generator's side of each measurement, run in the main process against a `Target`: the upstream
 * directly, the relay with the session's Host, cookie (and Origin, for WebSockets), or the peer with its
 * subdomain's Host.
 */
import { Agent, request, type IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";

import WebSocket from "ws";

/** The paths measured: the upstream directly, through Drydock's relay, through the peer (localtunnel). */
export type PathName = "direct" | "relay" | "peer";

export interface Target {
  name: PathName;
  /** An address, not a name: no DNS for `*.localhost`. */
  host: string;
  port: number;
  /** Sent with every HTTP request (Host and cookie for the relay). */
  headers: Record<string, string>;
  /** Sent with the WebSocket upgrade (adds Origin for the relay, which refuses cross-origin upgrades). */
  wsHeaders: Record<string, string>;
}

function send(
  target: Target,
  agent: Agent,
  method: string,
  path: string,
  extra: Record<string, string> = {},
) {
  return request({
    host: target.host,
    port: target.port,
    agent,
    method,
    path,
    headers: { ...target.headers, ...extra },
  });
}

/** An error for a non-200 answer, with the start of its body (the relay says why it refused). */
function answerError(res: IncomingMessage, what: string): Promise<Error> {
  return new Promise((resolve) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (text: string) => (body += text.slice(0, 500 - body.length)));
    const done = () => {
      const text = body
        .replace(/<[^>]*>/g, " ")
        .replace(/&#39;/g, "'")
        .replace(/\s+/g, " ")
        .trim();
      resolve(new Error(`${what} answered ${res.statusCode}: ${text}`));
    };
    res.on("end", done);
    res.on("error", done);
  });
}

/** GETs `bytes` bytes once; resolves with MB/s (10^6 bytes). */
export function download(target: Target, agent: Agent, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = send(target, agent, "GET", `/bytes?n=${bytes}`);
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        void answerError(res, `${target.name} download`).then(reject);
        return;
      }
      let received = 0;
      res.on("data", (chunk: Buffer) => (received += chunk.length));
      res.on("end", () => {
        if (received !== bytes)
          reject(new Error(`${target.name} download: got ${received} of ${bytes} bytes`));
        else resolve(bytes / 1e6 / ((performance.now() - start) / 1000));
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** POSTs `bytes` bytes (one reused buffer, with backpressure) once; resolves with MB/s. */
export function upload(
  target: Target,
  agent: Agent,
  bytes: number,
  chunk: Buffer,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = send(target, agent, "POST", "/upload", {
      "content-type": "application/octet-stream",
      "content-length": String(bytes),
    });
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        void answerError(res, `${target.name} upload`).then(reject);
        return;
      }
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (text: string) => (body += text));
      res.on("end", () => {
        if (Number(body) !== bytes)
          reject(new Error(`${target.name} upload: upstream got ${body} of ${bytes} bytes`));
        else resolve(bytes / 1e6 / ((performance.now() - start) / 1000));
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!req.write(piece)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/** One GET of the tiny body; resolves with its round trip in ms. */
function tinyGet(target: Target, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = send(target, agent, "GET", "/tiny");
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        void answerError(res, `${target.name} GET /tiny`).then(reject);
        return;
      }
      res.on("data", () => undefined);
      res.on("end", () => resolve(performance.now() - start));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sequential tiny GETs over one kept-alive connection; resolves with the measured round trips (ms). */
export async function requestLatency(
  target: Target,
  warmup: number,
  measured: number,
): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < warmup; i++) await tinyGet(target, agent);
    const samples: number[] = [];
    for (let i = 0; i < measured; i++) samples.push(await tinyGet(target, agent));
    return samples;
  } finally {
    agent.destroy();
  }
}

export interface Throughput {
  requestsPerSecond: number;
  /** Total requests answered during the measured run. */
  total: number;
}

/**
 * One autocannon run against the tiny body; any error or non-2xx answer fails it. autocannon is loaded on
 * first use: with it (and its dependencies) loaded, this process's heap grows enough that bulk downloads
 * here cost several times the CPU (old-space collections, page faults), which would cap the direct path.
 */
export async function requestsPerSecond(
  target: Target,
  connections: number,
  seconds: number,
): Promise<Throughput> {
  const { default: autocannon } = await import("autocannon");
  const result = await autocannon({
    url: `http://${target.host}:${target.port}/tiny`,
    connections,
    duration: seconds,
    headers: target.headers,
  });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(
      `${target.name} autocannon: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers`,
    );
  }
  return { requestsPerSecond: result.requests.average, total: result.requests.total };
}

/** Sequential echoes of a small message over one WebSocket; resolves with the measured round trips (ms). */
export async function websocketEcho(
  target: Target,
  warmup: number,
  measured: number,
): Promise<number[]> {
  const ws = new WebSocket(`ws://${target.host}:${target.port}/ws`, {
    headers: target.wsHeaders,
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) =>
      reject(new Error(`${target.name} WebSocket upgrade answered ${res.statusCode}`)),
    );
  });
  const message = Buffer.from("0123456789abcdef0123456789abcdef");
  const echo = () =>
    new Promise<number>((resolve, reject) => {
      const start = performance.now();
      const onMessage = (data: WebSocket.RawData) => {
        ws.off("close", onClose);
        if ((data as Buffer).length !== message.length)
          reject(new Error(`${target.name} WebSocket echoed ${(data as Buffer).length} bytes`));
        else resolve(performance.now() - start);
      };
      const onClose = () => {
        ws.off("message", onMessage);
        reject(new Error(`${target.name} WebSocket closed during the echo test`));
      };
      ws.once("message", onMessage);
      ws.once("close", onClose);
      ws.send(message);
    });
  try {
    for (let i = 0; i < warmup; i++) await echo();
    const samples: number[] = [];
    for (let i = 0; i < measured; i++) samples.push(await echo());
    return samples;
  } finally {
    ws.close();
  }
}

/** The q-quantile (0 < q ≤ 1) of `samples`, nearest rank. */
export function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function median(samples: number[]): number {
  return quantile(samples, 0.5);
}
