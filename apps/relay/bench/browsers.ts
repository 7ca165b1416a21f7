/**
 * Child process: many browsers at once, for the sessions benchmark. Each browser holds one kept-alive connection
 * to its own session's origin and, once per interval (its first at a random point of the first one, so the
 * load is spread), GETs a body of the given size. `run` resolves with what happened: requests, failures (an
 * error, a status other than 200, a short body, or no answer within the timeout) with the first few reasons, and
 * the response times.
 */
import { Agent, request } from "node:http";

import { serveParent } from "./ipc.js";
import { quantile, type Target } from "./measure.js";

export interface BrowsersArgs {
  /** One per browser: its session's path. */
  targets: Target[];
  seconds: number;
  intervalMs: number;
  bytes: number;
  timeoutMs: number;
}

export interface BrowsersResult {
  requests: number;
  failures: number;
  /** The first reasons, with how many times each came. */
  reasons: Record<string, number>;
  /** Response times of the successful requests after each browser's first (which opens its connection), ms. */
  p50: number;
  p99: number;
  max: number;
  /** The same of each browser's first request: the connection's opening, all browsers at once. */
  firstP99: number;
  /** Bytes received in successful responses. */
  bytes: number;
}

function once(target: Target, agent: Agent, bytes: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({
      host: target.host,
      port: target.port,
      agent,
      path: `/bytes?n=${bytes}`,
      headers: target.headers,
      timeout: timeoutMs,
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.on("response", (res) => {
      let received = 0;
      res.on("data", (chunk: Buffer) => (received += chunk.length));
      res.on("error", reject);
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`answered ${res.statusCode}`));
        else if (received !== bytes) reject(new Error(`a short body (${received} of ${bytes})`));
        else resolve(performance.now() - started);
      });
    });
    req.end();
  });
}

async function run(args: BrowsersArgs): Promise<BrowsersResult> {
  const result = { requests: 0, failures: 0, reasons: {} as Record<string, number>, bytes: 0 };
  const times: number[] = [];
  const firsts: number[] = [];
  const endAt = performance.now() + args.seconds * 1000;
  const browser = async (target: Target) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let next = performance.now() + Math.random() * args.intervalMs;
      let first = true;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
        if (performance.now() >= endAt) return;
        next += args.intervalMs;
        result.requests++;
        const opening = first;
        first = false;
        try {
          (opening ? firsts : times).push(await once(target, agent, args.bytes, args.timeoutMs));
          result.bytes += args.bytes;
        } catch (error) {
          result.failures++;
          const reason = error instanceof Error ? error.message : String(error);
          if (reason in result.reasons || Object.keys(result.reasons).length < 10)
            result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(args.targets.map(browser));
  const q = (of: number[], at: number) => (of.length > 0 ? quantile(of, at) : NaN);
  return {
    ...result,
    p50: q(times, 0.5),
    p99: q(times, 0.99),
    max: q(times, 1),
    firstP99: q(firsts, 0.99),
  };
}

serveParent(null, { run: (arg) => run(arg as BrowsersArgs) });
