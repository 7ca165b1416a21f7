import { readFileSync } from "node:fs";

import { z } from "zod";

/**
 * The IDE's public origin: scheme, host name and port, nothing else. Session `s1` is served on
 * `<scheme>://s1.<host>:<port>`; the host must be a name, since IP addresses have no subdomains.
 */
export const IdeOriginSchema = z
  .string()
  .url()
  .refine((v) => {
    const url = new URL(v);
    return (
      (url.protocol === "http:" || url.protocol === "https:") &&
      url.pathname === "/" &&
      !url.search &&
      !/^[\d.:[\]]+$/.test(url.hostname)
    );
  }, "the IDE origin must be http(s)://<host name>[:port], with no path and not an IP address (sessions live on <session>.<host>)")
  .transform((v) => new URL(v).origin);

/** The relay's configuration, read and validated once. */
export const RelayConfigSchema = z.object({
  host: z.string().default("127.0.0.1"),
  /** 0 picks a free port. */
  port: z.coerce.number().int().min(0).max(65_535).default(8485),
  /** Where browsers reach this relay (or its load balancer); defaults to `http://localhost:<port>`. */
  ideOrigin: IdeOriginSchema.optional(),
  /** The control plane the relay asks about tokens and tickets. */
  serverUrl: z.string().url(),
  /** The token the control plane expects from relays (`DRYDOCK_RELAY_TOKEN`, the same on both). */
  relayToken: z.string().min(16),
  /** Signs the relay's session cookies; every relay behind one load balancer needs the same one. Defaults to a hash of the relay token. */
  cookieSecret: z.string().min(16).optional(),
  /** How long a signed-in browser stays signed in to one session's IDE. */
  cookieTtlSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .default(12 * 3600),
  /** How long a browser request waits for its session's agent to (re)connect before a "reconnecting" answer. */
  tunnelWaitMs: z.coerce.number().int().min(0).default(5_000),
  /** The relay PINGs every tunnel this often; an unanswered PING closes it. */
  pingIntervalMs: z.coerce.number().int().min(100).default(15_000),
  /** Tunnels one relay holds at once. */
  maxTunnels: z.coerce.number().int().min(1).default(20_000),
  /** Browser requests and sockets one session may have open at once. */
  maxStreamsPerSession: z.coerce.number().int().min(1).default(512),
  /**
   * A connection must send a complete request head within this long of connecting (or of its last answer)
   * until it has signed in (a request with a valid cookie, or an accepted tunnel); else it is closed (408 if a
   * head was under way).
   */
  headTimeoutMs: z.coerce.number().int().min(100).default(10_000),
  /**
   * Connections not yet signed in, at most; past it the oldest of them is closed to make room (a browser sends
   * its head at once, so it is the slow ones that go).
   */
  maxPendingConnections: z.coerce.number().int().min(1).default(1_024),
  /** The same limit per client address. Behind a load balancer every client has the balancer's address: raise it there. */
  maxPendingPerAddress: z.coerce.number().int().min(1).default(256),
  /** Names this relay in its connection reports to the control plane; a random id per process when not set. */
  relayId: z.string().min(1).max(100).optional(),
  /** Lets a scraper read `/metrics` (`Authorization: Bearer <token>`); the relay token always may. */
  metricsToken: z.string().min(16).optional(),
  /** PEM files for serving TLS directly (otherwise terminate TLS at the load balancer). */
  tlsCertFile: z.string().optional(),
  tlsKeyFile: z.string().optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type RelayConfig = z.infer<typeof RelayConfigSchema>;
export type RelayConfigInput = z.input<typeof RelayConfigSchema>;

export function readRelayConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<RelayConfigInput> = {},
): RelayConfig {
  return RelayConfigSchema.parse({
    host: env.DRYDOCK_RELAY_HOST,
    port: env.DRYDOCK_RELAY_PORT,
    ideOrigin: env.DRYDOCK_IDE_ORIGIN || undefined,
    serverUrl: env.DRYDOCK_SERVER_URL,
    relayToken: env.DRYDOCK_RELAY_TOKEN,
    cookieSecret: env.DRYDOCK_RELAY_COOKIE_SECRET || undefined,
    headTimeoutMs: env.DRYDOCK_RELAY_HEAD_TIMEOUT_MS || undefined,
    maxPendingConnections: env.DRYDOCK_RELAY_MAX_PENDING || undefined,
    maxPendingPerAddress: env.DRYDOCK_RELAY_MAX_PENDING_PER_ADDRESS || undefined,
    metricsToken: env.DRYDOCK_RELAY_METRICS_TOKEN || undefined,
    relayId: env.DRYDOCK_RELAY_ID || undefined,
    tlsCertFile: env.DRYDOCK_RELAY_TLS_CERT || undefined,
    tlsKeyFile: env.DRYDOCK_RELAY_TLS_KEY || undefined,
    logLevel: env.DRYDOCK_LOG_LEVEL,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  });
}

export function readTls(config: RelayConfig): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tlsCertFile && !config.tlsKeyFile) return undefined;
  if (!config.tlsCertFile || !config.tlsKeyFile)
    throw new Error("TLS needs both DRYDOCK_RELAY_TLS_CERT and DRYDOCK_RELAY_TLS_KEY");
  return { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) };
}
