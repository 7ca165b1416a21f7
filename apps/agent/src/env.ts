/** The agent's configuration, read from the environment once and validated (the only place touching process.env). */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { z } from "zod";

import { childEnvOf } from "./env-early.js";
import { defaultIdeDir } from "./ide/runtime.js";

const DEFAULT_CACHE_DIR = join(tmpdir(), "drydock-cache");
const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

const EnvSchema = z.object({
  /** http(s) base URL of the control plane, e.g. http://127.0.0.1:8484. */
  DRYDOCK_ENDPOINT: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  /** Attempt-scoped bearer token. */
  DRYDOCK_AGENT_TOKEN: z.string().min(1),
  /** Cache shared by the agents of one machine (code bundles). */
  DRYDOCK_CACHE_DIR: z.string().min(1).default(DEFAULT_CACHE_DIR),
  /** The IDE runtime (code-server and its Node), installed here once per machine; default: the user's cache. */
  DRYDOCK_IDE_DIR: z.string().min(1).optional(),
  DRYDOCK_LOG_LEVEL: LogLevel.default("info"),
  DRYDOCK_HEARTBEAT_MS: z.coerce.number().int().min(10).default(2_000),
  /** How long the agent keeps retrying while the server is unreachable (a restart) before giving up. */
  DRYDOCK_RECONNECT_SECONDS: z.coerce.number().positive().default(600),
  /** The extensions every session gets (comma-separated .vsix URLs or paths; "none" for none); default: the Drydock extension. */
  DRYDOCK_DEFAULT_EXTENSIONS: z.string().optional(),
  /** A read-only cache of installed extension sets kept by someone else (the local executor, for isolated attempts). */
  DRYDOCK_SHARED_EXTENSIONS: z.string().min(1).optional(),
});

export interface AgentConfig {
  endpoint: string;
  token: string;
  cacheDir: string;
  /** Where the IDE runtime lives (ide/runtime.ts). */
  ideDir: string;
  logLevel: z.infer<typeof LogLevel>;
  heartbeatMs: number;
  reconnectSeconds: number;
  /** Installed into every interactive session before the task's own. */
  defaultExtensions: string[];
  /** Extension sets installed by someone else, copied rather than installed again (DRYDOCK_SHARED_EXTENSIONS). */
  sharedExtensionsDir?: string;
  /**
   * The environment of what the agent starts for the user (code-server, its terminals, the debugged task):
   * the agent's own, less its attempt token, which nothing but the agent may hold.
   */
  childEnv: Record<string, string>;
}

/** Reads and validates the agent's environment; throws an Error naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AgentConfig {
  const present = setVariables(env);
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
      .join("; ");
    throw new Error(`invalid agent environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    endpoint: e.DRYDOCK_ENDPOINT.replace(/\/+$/, ""),
    token: e.DRYDOCK_AGENT_TOKEN,
    cacheDir: e.DRYDOCK_CACHE_DIR,
    ideDir: defaultIdeDir(present),
    logLevel: e.DRYDOCK_LOG_LEVEL,
    heartbeatMs: e.DRYDOCK_HEARTBEAT_MS,
    reconnectSeconds: e.DRYDOCK_RECONNECT_SECONDS,
    defaultExtensions: defaultExtensions(e.DRYDOCK_DEFAULT_EXTENSIONS),
    ...(e.DRYDOCK_SHARED_EXTENSIONS ? { sharedExtensionsDir: e.DRYDOCK_SHARED_EXTENSIONS } : {}),
    childEnv: childEnvOf(env),
  };
}

/** The cache and default extensions as `loadConfig` reads them, for `prepare` (which runs no attempt, so has no endpoint or token). */
export function loadPrepareConfig(
  env: Record<string, string | undefined> = process.env,
): Pick<AgentConfig, "cacheDir" | "ideDir" | "defaultExtensions" | "childEnv"> {
  return {
    cacheDir: env.DRYDOCK_CACHE_DIR || DEFAULT_CACHE_DIR,
    ideDir: defaultIdeDir(setVariables(env)),
    defaultExtensions: defaultExtensionsOf(env),
    childEnv: Object.fromEntries(
      Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
  };
}

/** The variables that are set: an empty one means "not set", so its default applies. */
const setVariables = (env: Record<string, string | undefined>) =>
  Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "",
    ),
  );

/** The extensions every session gets, by DRYDOCK_DEFAULT_EXTENSIONS in `env` (the Drydock extension when unset). */
export const defaultExtensionsOf = (env: Record<string, string | undefined>): string[] =>
  defaultExtensions(env.DRYDOCK_DEFAULT_EXTENSIONS || undefined);

const defaultExtensions = (value: string | undefined) =>
  value === undefined ? bundledExtensions() : listOf(value);

const listOf = (value: string) =>
  value.trim() === "none"
    ? []
    : value
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);

/** The Drydock extension's .vsix, as the workspace built it (`@drydock/vscode-extension`); none when it is not there. */
function bundledExtensions(): string[] {
  try {
    const vsix = fileURLToPath(import.meta.resolve("@drydock/vscode-extension/vsix"));
    return existsSync(vsix) ? [vsix] : [];
  } catch {
    return [];
  }
}
