import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";

import type { TunnelRegistry } from "./tunnels.js";

/** The relay's Prometheus metrics, on a registry of its own (several relays may share a process in tests). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "drydock_relay_" });
  const metrics = {
    registry,
    tunnelConnects: new Counter({
      name: "drydock_relay_tunnel_connects_total",
      help: "Agent tunnel connection attempts, by result",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    tunnelCloses: new Counter({
      name: "drydock_relay_tunnel_closes_total",
      help: "Tunnels closed, by cause (agent_gone, protocol_error, ping_timeout, replaced, shutdown)",
      labelNames: ["cause"] as const,
      registers: [registry],
    }),
    requests: new Counter({
      name: "drydock_relay_requests_total",
      help: "Browser requests and upgrades, by kind and outcome",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    }),
    handOffs: new Counter({
      name: "drydock_relay_handoffs_total",
      help: "Connections the fast path handed to the relay's HTTP server (its own routes, tunnels, another host)",
      registers: [registry],
    }),
    pendingClosed: new Counter({
      name: "drydock_relay_pending_closed_total",
      help: "Connections closed before signing in, by reason (slow: a head begun but not finished in time; idle: nothing in time; evicted: made room)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
  };
  return metrics;
}
export type RelayMetrics = ReturnType<typeof createMetrics>;

/** Connections that have not signed in yet, counted when scraped. */
export function observePending(metrics: RelayMetrics, pending: { size: number }) {
  new Gauge({
    name: "drydock_relay_pending_connections",
    help: "Connections open now that have not signed in yet (no request with a valid cookie, no accepted tunnel)",
    registers: [metrics.registry],
    collect() {
      this.set(pending.size);
    },
  });
}

/** Gauges and byte counters read off the live tunnels when scraped. */
export function observeTunnels(metrics: RelayMetrics, tunnels: TunnelRegistry) {
  new Gauge({
    name: "drydock_relay_tunnels",
    help: "Agent tunnels connected now",
    registers: [metrics.registry],
    collect() {
      this.set(tunnels.size);
    },
  });
  new Gauge({
    name: "drydock_relay_streams",
    help: "Browser requests and sockets in flight through tunnels now",
    registers: [metrics.registry],
    collect() {
      this.set(tunnels.totals().streams);
    },
  });
  new Counter({
    name: "drydock_relay_tunnel_bytes_total",
    help: "Bytes through agent tunnels (framing included), by direction",
    labelNames: ["direction"] as const,
    registers: [metrics.registry],
    collect() {
      const totals = tunnels.totals();
      this.reset();
      this.inc({ direction: "from_agent" }, totals.bytesFromAgent);
      this.inc({ direction: "to_agent" }, totals.bytesToAgent);
    },
  });
}
