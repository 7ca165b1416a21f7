import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { z } from "zod";

import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";

const SavedContextSchema = z.object({
  endpoint: z.string().url(),
  token: z.string(),
  dataDir: z.string().optional(),
});
export type SavedContext = z.infer<typeof SavedContextSchema>;

export interface Connection {
  endpoint: string;
  token: string;
  project: string;
}

const contextFile = (env: CliEnv) => join(env.home, "context.json");

/** Saves where `drydock up` serves, so later commands find it without flags. */
export async function saveContext(env: CliEnv, context: SavedContext): Promise<void> {
  await mkdir(env.home, { recursive: true, mode: 0o700 });
  await writeFile(contextFile(env), JSON.stringify(context, null, 2), { mode: 0o600 });
}

/** Endpoint and token from flags, then DRYDOCK_ENDPOINT / DRYDOCK_TOKEN, then what `drydock up` saved. */
export async function resolveConnection(
  env: CliEnv,
  flags: { endpoint?: string; token?: string; project?: string },
): Promise<Connection> {
  const saved = await readFile(contextFile(env), "utf8")
    .then((text) => SavedContextSchema.safeParse(JSON.parse(text)))
    .then((r) => (r.success ? r.data : undefined))
    .catch(() => undefined);
  const endpoint = flags.endpoint ?? env.endpoint ?? saved?.endpoint;
  const token = flags.token ?? env.token ?? saved?.token;
  if (!endpoint || !token) {
    throw new CliError(
      "no Drydock server to talk to: start one with `drydock up`, or pass --endpoint and --token (or set DRYDOCK_ENDPOINT and DRYDOCK_TOKEN)",
    );
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ""),
    token,
    project: flags.project ?? env.project ?? "default",
  };
}
