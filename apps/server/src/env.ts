import { isIP } from "node:net";

import { z } from "zod";

const isHttp = (url: URL) => url.protocol === "http:" || url.protocol === "https:";

/** Where agents dial the relay: an http(s) URL. */
const RelayUrl = z
  .string()
  .url()
  .refine((v) => isHttp(new URL(v)), "the relay URL must be http: or https:");

/**
 * The IDE's origin: scheme, host and port only, and a host name (not an IP address), because each
 * session is served on `<session>.<host>`. Normalised to the URL's origin (no trailing slash).
 */
const IdeOrigin = z
  .string()
  .url()
  .refine((v) => {
    const url = new URL(v);
    const originOnly =
      url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password;
    return isHttp(url) && originOnly && isIP(url.hostname.replace(/^\[|\]$/g, "")) === 0;
  }, "the IDE origin must be http(s)://<host name>[:port] with no path, and a name, not an IP address (sessions are served on <session>.<host>)")
  .transform((v) => new URL(v).origin);

/** An OpenID Connect provider people sign in with (authorization code + PKCE; the CLI's device flow). */
export const OidcConfigSchema = z.object({
  /** The provider's issuer URL (its discovery document is at `<issuer>/.well-known/openid-configuration`). */
  issuer: z.string().url(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** Shown on the sign-in button: "Sign in with <name>". */
  name: z.string().min(1).default("OpenID"),
  /** People with these (verified) email addresses are instance admins. */
  adminEmails: z.array(z.string().trim().toLowerCase().email()).default([]),
});
export type OidcConfig = z.infer<typeof OidcConfigSchema>;

/** The OpenID provider's settings, all or none: a partial set is a mistake worth naming. */
function oidcFromEnv(env: NodeJS.ProcessEnv) {
  const issuer = env.DRYDOCK_OIDC_ISSUER || undefined;
  const clientId = env.DRYDOCK_OIDC_CLIENT_ID || undefined;
  const clientSecret = env.DRYDOCK_OIDC_CLIENT_SECRET || undefined;
  if (!issuer && !clientId && !clientSecret) return undefined;
  return {
    issuer,
    clientId,
    clientSecret,
    name: env.DRYDOCK_OIDC_NAME || undefined,
    adminEmails: (env.DRYDOCK_ADMIN_EMAILS ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e.length > 0),
  };
}

/** The configuration's fields, each valid on its own; ServerConfigSchema checks them together. */
const ServerConfigFields = z.object({
  host: z.string().default("127.0.0.1"),
  /** 0 picks a free port. */
  port: z.coerce.number().int().min(0).max(65_535).default(8484),
  dataDir: z.string().default(".drydock"),
  /**
   * Where the server keeps what every replica serves: blobs (bundles, inputs, outputs) and task logs. Defaults
   * to the data directory; several replicas need one volume they all mount here.
   */
  sharedDir: z.string().optional(),
  /** An external PostgreSQL; without it the server runs an embedded one in `<dataDir>/pg`. */
  databaseUrl: z.string().url().optional(),
  /** The local user's API token; generated and kept in `<dataDir>/secrets.json` when absent. */
  token: z.string().min(16).optional(),
  /** The token relays present to the control plane; generated and kept in `<dataDir>/secrets.json` when absent. */
  relayToken: z.string().min(16).optional(),
  /** Signs blob URLs; generated and kept in `<dataDir>/secrets.json` when absent. Replicas need one and the same. */
  signingSecret: z.string().min(32).optional(),
  /** Where agents dial the relay for their session's tunnel, e.g. `http://127.0.0.1:8081`; interactive sessions need it. */
  relayUrl: RelayUrl.optional(),
  /**
   * The origin browsers reach the relay's IDE on, e.g. `http://localhost:8081`: session `s1` is then served on
   * `http://s1.localhost:8081`. Interactive sessions need it.
   */
  ideOrigin: IdeOrigin.optional(),
  /** Base URL agents and browsers use to reach this server; defaults to the listening address. */
  publicUrl: z.string().url().optional(),
  /** The built console to serve at `/` (its index.html and assets); defaults to @drydock/console's build. */
  consoleDir: z.string().optional(),
  /**
   * Where attempts run: `local` child processes (the default), `docker` containers of each task's image, or
   * `swarm` services of it on a Docker Swarm cluster (with the `docker` settings, its socket a manager's).
   */
  executor: z.enum(["local", "docker", "swarm"]).default("local"),
  /**
   * How events reach watchers: `local`, this server's own (the default: one server); `postgres`, every server
   * replica on the database too (LISTEN/NOTIFY), whichever a browser's WebSocket lands on.
   */
  events: z.enum(["local", "postgres"]).default("local"),
  docker: z
    .object({
      /** The Docker engine's socket. */
      socket: z.string().min(1).default("/var/run/docker.sock"),
      /** The image of tasks without an ImageSpec (and the base ImageSpec images build on). */
      taskImage: z.string().min(1).default("drydock/agent:latest"),
      /** The Docker network task containers join; they must reach the server and the relay from it. */
      network: z.string().min(1).default("bridge"),
      /**
       * The server's URL as task containers reach it, e.g. `http://server:8484` on a compose network;
       * defaults to the public URL.
       */
      agentEndpoint: z.string().url().optional(),
    })
    .prefault({}),
  swarm: z
    .object({
      /** The attachable overlay network attempts' services join; they must reach the server and the relay on it. */
      network: z.string().min(1).optional(),
      /** How long an attempt may wait for a node that has the labels and the free CPU and memory it asks for. */
      unplacedSeconds: z.coerce.number().int().min(1).default(20),
      /** Placement constraints every attempt gets, e.g. `node.role==worker` (DRYDOCK_SWARM_CONSTRAINTS, comma-separated). */
      constraints: z
        .array(
          z
            .string()
            .regex(
              /^[A-Za-z0-9._-]+ *(==|!=) *[^\s,]+$/,
              "each of DRYDOCK_SWARM_CONSTRAINTS must read like node.role==worker or node.labels.zone!=b",
            ),
        )
        .default([]),
    })
    .prefault({}),
  /**
   * The image registry a cluster's nodes pull task images from (`host:port`, no scheme): `drydock register`
   * pushes the ImageSpec images it builds there (the server tells it through `health`).
   */
  registry: z
    .string()
    .regex(
      /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/,
      "DRYDOCK_REGISTRY must be host[:port], e.g. 10.77.0.11:5000 (no scheme, no path)",
    )
    .optional(),
  /** How many attempts run at once (on each replica). */
  maxParallel: z.coerce.number().int().min(1).max(1_000).default(8),
  /** An attempt with no heartbeat for this long is declared lost. */
  heartbeatTimeoutSeconds: z.coerce.number().int().min(5).default(30),
  /**
   * An attempt launched whose agent has not started yet (its image pulling, its container or process starting,
   * a cluster's scheduler busy) is declared lost after this long: starting is not judged by the heartbeat.
   */
  startTimeoutSeconds: z.coerce.number().int().min(5).default(300),
  /** A lost attempt (agent died, server restarted under it) is re-run at most this many times. */
  lostAttemptRetries: z.coerce.number().int().min(0).default(2),
  /** What agents inherit from the server's environment: only what a process needs to run, no secrets. */
  agentEnv: z.record(z.string(), z.string()).default({}),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Sign-in through an OpenID provider; without one, the local admin signs in with one-time codes. */
  oidc: OidcConfigSchema.optional(),
});

/** The Swarm executor's settings, checked where the whole configuration is known. */
function checkSwarm(config: z.infer<typeof ServerConfigFields>, ctx: z.RefinementCtx) {
  if (config.executor !== "swarm") return;
  if (!config.swarm.network)
    ctx.addIssue({
      code: "custom",
      path: ["swarm", "network"],
      message:
        "DRYDOCK_EXECUTOR=swarm needs DRYDOCK_SWARM_NETWORK: the attachable overlay network attempts join, from which they reach the server and the relay",
    });
  if (config.swarm.unplacedSeconds >= config.startTimeoutSeconds)
    ctx.addIssue({
      code: "custom",
      path: ["swarm", "unplacedSeconds"],
      message: `DRYDOCK_SWARM_UNPLACED_SECONDS (${config.swarm.unplacedSeconds}) must be below the start timeout (${config.startTimeoutSeconds}s): an attempt waiting for a node that long is declared lost first`,
    });
}

/** The control plane's configuration, read and validated once from the environment. */
export const ServerConfigSchema = ServerConfigFields.superRefine(checkSwarm);
export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

const AGENT_ENV = [
  ...["PATH", "HOME", "LANG", "TMPDIR", "TZ", "DRYDOCK_RECONNECT_SECONDS", "DRYDOCK_HEARTBEAT_MS"],
  // Where the IDE runtime is (the one `drydock up` installs), and what reaching the registry takes if an agent installs it.
  ...[
    "DRYDOCK_IDE_DIR",
    "XDG_CACHE_HOME",
    "NODE_EXTRA_CA_CERTS",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
  ],
];

export function readServerConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: ServerConfigInput = {},
): ServerConfig {
  return ServerConfigSchema.parse({
    host: env.DRYDOCK_HOST,
    port: env.DRYDOCK_PORT,
    dataDir: env.DRYDOCK_DATA_DIR,
    sharedDir: env.DRYDOCK_SHARED_DIR || undefined,
    databaseUrl: env.DRYDOCK_DATABASE_URL || undefined,
    token: env.DRYDOCK_TOKEN || undefined,
    relayToken: env.DRYDOCK_RELAY_TOKEN || undefined,
    signingSecret: env.DRYDOCK_SIGNING_SECRET || undefined,
    relayUrl: env.DRYDOCK_RELAY_URL || undefined,
    ideOrigin: env.DRYDOCK_IDE_ORIGIN || undefined,
    publicUrl: env.DRYDOCK_PUBLIC_URL || undefined,
    consoleDir: env.DRYDOCK_CONSOLE_DIR || undefined,
    maxParallel: env.DRYDOCK_MAX_PARALLEL,
    registry: env.DRYDOCK_REGISTRY || undefined,
    heartbeatTimeoutSeconds: env.DRYDOCK_HEARTBEAT_TIMEOUT_SECONDS,
    startTimeoutSeconds: env.DRYDOCK_START_TIMEOUT_SECONDS,
    executor: env.DRYDOCK_EXECUTOR || undefined,
    events: env.DRYDOCK_EVENTS || undefined,
    docker: {
      socket: env.DRYDOCK_DOCKER_SOCKET || undefined,
      taskImage: env.DRYDOCK_TASK_IMAGE || undefined,
      network: env.DRYDOCK_DOCKER_NETWORK || undefined,
      agentEndpoint: env.DRYDOCK_AGENT_ENDPOINT || undefined,
    },
    swarm: {
      network: env.DRYDOCK_SWARM_NETWORK || undefined,
      unplacedSeconds: env.DRYDOCK_SWARM_UNPLACED_SECONDS || undefined,
      constraints: (env.DRYDOCK_SWARM_CONSTRAINTS ?? "")
        .split(",")
        .map((c) => c.trim())
        .filter((c) => c.length > 0),
    },
    logLevel: env.DRYDOCK_LOG_LEVEL,
    oidc: oidcFromEnv(env),
    agentEnv: Object.fromEntries(AGENT_ENV.flatMap((k) => (env[k] ? [[k, env[k]]] : []))),
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  });
}
