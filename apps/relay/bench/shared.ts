/** What the benchmark's processes tell each other, and the constants they share. */

/** The relay child's cookie secret; the main process signs the browser cookie with it. */
export const BENCH_COOKIE_SECRET = "bench-cookie-secret-0123456789abcdef";
/** Every agent presents this token; the bench's authority accepts any. */
export const BENCH_AGENT_TOKEN = "bench-agent-token";

export interface UpstreamReady {
  port: number;
}

export interface RelayReady {
  /** Where agents dial, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** e.g. `http://localhost:41234`; session `s` lives on `http://s.localhost:41234`. */
  ideOrigin: string;
}

export interface MemorySample {
  tunnels: number;
  rss: number;
  heapUsed: number;
  /** Includes arrayBuffers (Node counts Buffers in both). */
  external: number;
  arrayBuffers: number;
}

export interface AgentsConnectArgs {
  relayUrl: string;
  ideOrigin: string;
  upstreamPort: number;
  sessions: string[];
  /** How many tunnels dial at once. */
  batch: number;
}

/** What a process has used so far: CPU time (user + system, µs) and voluntary context switches (each a wake-up from blocking). */
export interface Usage {
  cpu: number;
  wakeups: number;
}

export function usageNow(): Usage {
  const cpu = process.cpuUsage();
  return { cpu: cpu.user + cpu.system, wakeups: process.resourceUsage().voluntaryContextSwitches };
}
