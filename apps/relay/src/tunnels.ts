import type { RelayTunnel, TunnelStats } from "@drydock/tunnel";

/** The tunnels this relay holds, one per session, and the browser requests waiting for one to (re)appear. */
export class TunnelRegistry {
  private readonly tunnels = new Map<string, RelayTunnel>();
  private readonly waiters = new Map<string, Set<(tunnel: RelayTunnel) => void>>();
  private closedBytes = { bytesFromAgent: 0, bytesToAgent: 0 };

  get size(): number {
    return this.tunnels.size;
  }

  get(sessionId: string): RelayTunnel | undefined {
    return this.tunnels.get(sessionId);
  }

  /**
   * Makes `tunnel` the session's tunnel; a previous one (a half-open connection the agent gave up on) is
   * closed. `onClose` hears why the tunnel ended.
   */
  add(sessionId: string, tunnel: RelayTunnel, onClose: (reason: string) => void): void {
    const previous = this.tunnels.get(sessionId);
    this.tunnels.set(sessionId, tunnel);
    previous?.replace();
    tunnel.once("close", (reason) => {
      const stats = tunnel.stats();
      this.closedBytes.bytesFromAgent += stats.bytesFromAgent;
      this.closedBytes.bytesToAgent += stats.bytesToAgent;
      if (this.tunnels.get(sessionId) === tunnel) this.tunnels.delete(sessionId);
      onClose(reason);
    });
    const waiting = this.waiters.get(sessionId);
    if (waiting) {
      this.waiters.delete(sessionId);
      for (const wake of waiting) wake(tunnel);
    }
  }

  /** The session's tunnel, waiting up to `ms` for its agent to connect; undefined if it does not. */
  wait(sessionId: string, ms: number, signal?: AbortSignal): Promise<RelayTunnel | undefined> {
    const now = this.tunnels.get(sessionId);
    if (now || ms <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      let set = this.waiters.get(sessionId);
      if (!set) this.waiters.set(sessionId, (set = new Set()));
      const wake = (tunnel: RelayTunnel | undefined) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", giveUp);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(sessionId) === set) this.waiters.delete(sessionId);
        resolve(tunnel);
      };
      const giveUp = () => wake(undefined);
      const timer = setTimeout(giveUp, ms);
      signal?.addEventListener("abort", giveUp, { once: true });
      set.add(wake);
    });
  }

  totals(): TunnelStats {
    let streams = 0;
    let { bytesFromAgent, bytesToAgent } = this.closedBytes;
    for (const tunnel of this.tunnels.values()) {
      const stats = tunnel.stats();
      streams += stats.streams;
      bytesFromAgent += stats.bytesFromAgent;
      bytesToAgent += stats.bytesToAgent;
    }
    return { streams, bytesFromAgent, bytesToAgent };
  }

  closeAll(reason: string): void {
    for (const tunnel of [...this.tunnels.values()]) tunnel.close(reason);
    for (const [sessionId, set] of this.waiters) {
      this.waiters.delete(sessionId);
      for (const wake of set) (wake as (t: RelayTunnel | undefined) => void)(undefined);
    }
  }
}
