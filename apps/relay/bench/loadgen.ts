/**
 * Child process: the load generator, for the benchmarks that place it in a network namespace of its own (the
 * user's side of an emulated link, `wan.ts`). Measures what the main process asks, with `measure.ts`:
 * `download` (MB/s; one kept-alive connection per path, kept between calls), `latency` (sequential GETs) and
 * `ws` (sequential WebSocket echoes), each resolving with its figures, and `answers` (waits for a URL to answer).
 */
import { Agent } from "node:http";

import { serveParent } from "./ipc.js";
import { download, requestLatency, websocketEcho, type PathName, type Target } from "./measure.js";

export interface LoadArgs {
  target: Target;
  /** download: bytes; latency and ws: measured operations. */
  count: number;
  warmup?: number;
}

const agents = new Map<PathName, Agent>();
const agentFor = (name: PathName) => {
  let agent = agents.get(name);
  if (!agent) agents.set(name, (agent = new Agent({ keepAlive: true, maxSockets: 1 })));
  return agent;
};

/** Resolves once `url` answers 200, polling; fails after `timeoutMs`. */
async function answers({ url, timeoutMs }: { url: string; timeoutMs: number }): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await fetch(url).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) return;
    if (performance.now() > deadline)
      throw new Error(
        `${url} did not answer 200 within ${timeoutMs} ms (last: ${status || "no answer"})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

serveParent(null, {
  answers: (arg) => answers(arg as { url: string; timeoutMs: number }),
  download: (arg) => {
    const { target, count } = arg as LoadArgs;
    return download(target, agentFor(target.name), count);
  },
  latency: (arg) => {
    const { target, count, warmup = 0 } = arg as LoadArgs;
    return requestLatency(target, warmup, count);
  },
  ws: (arg) => {
    const { target, count, warmup = 0 } = arg as LoadArgs;
    return websocketEcho(target, warmup, count);
  },
});
