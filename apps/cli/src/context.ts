import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";

import { DEFAULT_PROJECT, ProjectId } from "@drydock/contracts";
import { z } from "zod";

import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";
import { writePrivateFile } from "./private-file.js";

/** How the saved token was obtained; `drydock logout` revokes only a key the device flow made. */
export const CredentialSource = z.enum(["up", "device", "apiKey"]);
export type CredentialSource = z.infer<typeof CredentialSource>;

const SavedContextSchema = z.object({
  endpoint: z.string().url(),
  token: z.string(),
  dataDir: z.string().optional(),
  /** The project commands act in when neither --project nor DRYDOCK_PROJECT names one. */
  project: ProjectId.optional(),
  /** Absent in files written before `drydock login` existed: those came from `drydock up`. */
  source: CredentialSource.optional(),
});
export type SavedContext = z.infer<typeof SavedContextSchema>;

export interface Connection {
  endpoint: string;
  token: string;
  project: string;
}

export interface ConnectionFlags {
  endpoint?: string;
  token?: string;
  project?: string;
}

/** The one file `drydock up` and `drydock login` save to and every command reads. */
export const contextFile = (env: CliEnv) => join(env.home, "context.json");

/** Endpoints as written by people: `http://host:1/` and `http://host:1` are one server. */
export const normalizeEndpoint = (endpoint: string) => endpoint.replace(/\/+$/, "");

/** Saves the endpoint and credential to use next (0600, in a 0700 directory, never readable by others). */
export async function saveContext(env: CliEnv, context: SavedContext): Promise<void> {
  const saved = SavedContextSchema.parse({
    ...context,
    endpoint: normalizeEndpoint(context.endpoint),
  });
  await writePrivateFile(contextFile(env), `${JSON.stringify(saved, null, 2)}\n`);
}

/** What was saved, or undefined when nothing (or nothing readable) was. */
export async function readSavedContext(env: CliEnv): Promise<SavedContext | undefined> {
  return readFile(contextFile(env), "utf8")
    .then((text) => SavedContextSchema.safeParse(JSON.parse(text)))
    .then((r) => (r.success ? r.data : undefined))
    .catch(() => undefined);
}

/** Deletes the saved credential; false when there was none. */
export async function forgetContext(env: CliEnv): Promise<boolean> {
  const existed = (await readFile(contextFile(env)).catch(() => undefined)) !== undefined;
  await rm(contextFile(env), { force: true });
  return existed;
}

/** A project id as the API takes it, or a usage error naming the bad one and where it came from. */
export function checkProject(project: string, from: string): string {
  if (!ProjectId.safeParse(project).success)
    throw new CliError(
      `${from} "${project}" is not a project id (lower-case letters, digits and dashes, e.g. "team-a")`,
    );
  return project;
}

/** The server: --endpoint, then DRYDOCK_ENDPOINT, then the saved one. */
export function chooseEndpoint(
  env: CliEnv,
  flags: ConnectionFlags,
  saved: SavedContext | undefined,
): string | undefined {
  const endpoint = flags.endpoint ?? env.endpoint ?? saved?.endpoint;
  if (endpoint === undefined) return undefined;
  if (!z.string().url().safeParse(endpoint).success || !/^https?:\/\//.test(endpoint))
    throw new CliError(`--endpoint must be an http(s) URL, not "${endpoint}"`);
  return normalizeEndpoint(endpoint);
}

/** The project: --project, then DRYDOCK_PROJECT, then the saved default (for the saved server), then "default". */
function chooseProject(env: CliEnv, flags: ConnectionFlags, saved: SavedContext | undefined) {
  if (flags.project !== undefined) return checkProject(flags.project, "--project");
  if (env.project !== undefined) return checkProject(env.project, "DRYDOCK_PROJECT");
  return saved?.project ?? DEFAULT_PROJECT;
}

/**
 * Endpoint, token and project from flags, then DRYDOCK_ENDPOINT / DRYDOCK_TOKEN / DRYDOCK_PROJECT, then what
 * `drydock login` or `drydock up` saved. The saved token (and default project) only ever go to the server they
 * were saved for: another --endpoint never receives them.
 */
export async function resolveConnection(env: CliEnv, flags: ConnectionFlags): Promise<Connection> {
  const saved = await readSavedContext(env);
  const endpoint = chooseEndpoint(env, flags, saved);
  if (!endpoint) {
    throw new CliError(
      "no Drydock server to talk to: start one with `drydock up`, sign in to one with `drydock login --endpoint <url>`, or pass --endpoint and --token (or set DRYDOCK_ENDPOINT and DRYDOCK_TOKEN)",
    );
  }
  const forThisServer = saved && normalizeEndpoint(saved.endpoint) === endpoint ? saved : undefined;
  const token = flags.token ?? env.token ?? forThisServer?.token;
  if (!token) {
    throw new CliError(
      `no credential for ${endpoint}: sign in with \`drydock login --endpoint ${endpoint}\`, or pass --token (or set DRYDOCK_TOKEN)`,
    );
  }
  return { endpoint, token, project: chooseProject(env, flags, forThisServer) };
}
