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
    return (url.protocol === "http:" || url.protocol === "https:") && url.pathname === "/" && !url.search && !/^[\d.:[\]]+$/.test(url.hostname);
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
  cookieTtlSeconds: z.coerce.number().int().min(60).default(12 * 3600),
  /** How long a browser request waits for its session's agent to (re)connect before a "reconnecting" answer. */
  tunnelWaitMs: z.coerce.number().int().min(0).default(5_000),
  /** The relay PINGs every tunnel this often; an unanswered PING closes it. */
  pingIntervalMs: z.coerce.number().int().min(100).default(15_000),
  /** Tunnels one relay holds at once. */
  maxTunnels: z.coerce.number().int().min(1).default(20_000),
  /** Browser requests and sockets one session may have open at once. */
  maxStreamsPerSession: z.coerce.number().int().min(1).default(512),
  /** PEM files for serving TLS directly (otherwise terminate TLS at the load balancer). */
  tlsCertFile: z.string().optional(),
  tlsKeyFile: z.string().optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type RelayConfig = z.infer<typeof RelayConfigSchema>;
export type RelayConfigInput = z.input<typeof RelayConfigSchema>;

export function readRelayConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<RelayConfigInput> = {}): RelayConfig {
  return RelayConfigSchema.parse({
    host: env.DRYDOCK_RELAY_HOST,
    port: env.DRYDOCK_RELAY_PORT,
    ideOrigin: env.DRYDOCK_IDE_ORIGIN || undefined,
    serverUrl: env.DRYDOCK_SERVER_URL,
    relayToken: env.DRYDOCK_RELAY_TOKEN,
    cookieSecret: env.DRYDOCK_RELAY_COOKIE_SECRET || undefined,
    tlsCertFile: env.DRYDOCK_RELAY_TLS_CERT || undefined,
    tlsKeyFile: env.DRYDOCK_RELAY_TLS_KEY || undefined,
    logLevel: env.DRYDOCK_LOG_LEVEL,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  });
}

export function readTls(config: RelayConfig): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tlsCertFile && !config.tlsKeyFile) return undefined;
  if (!config.tlsCertFile || !config.tlsKeyFile) throw new Error("TLS needs both DRYDOCK_RELAY_TLS_CERT and DRYDOCK_RELAY_TLS_KEY");
  return { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) };
}
