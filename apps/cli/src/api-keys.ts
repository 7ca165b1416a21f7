/** `drydock api-keys create|list|revoke`: my keys for scripts and CI. */
import { MAX_API_KEY_DAYS } from "@drydock/contracts";
import type { ApiKey } from "@drydock/contracts";

import { outputFormat, printAnswer, withApi } from "./commands.js";
import type { ConnectionFlags } from "./context.js";
import { checkProject } from "./context.js";
import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";
import { formatTable, printResult } from "./output.js";
import { parseRole } from "./projects.js";

type Flags = Omit<ConnectionFlags, "project"> & { output?: string };

export interface CreateKeyFlags extends Flags {
  ceiling?: string;
  /** Limits the key to this project (not the project the command acts in: creating a key acts in none). */
  project?: string;
  expiresInDays?: string;
}

function expiryDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > MAX_API_KEY_DAYS)
    throw new CliError(
      `--expires-in-days must be a whole number from 1 to ${MAX_API_KEY_DAYS}, not "${value}"`,
    );
  return days;
}

/** What the key may do, in words. */
function keyScope(key: ApiKey): string {
  return [
    `acts as ${key.ceiling} at most`,
    key.project ? `in project ${key.project} only` : "in every project you are in",
    key.expiresAt ? `until ${key.expiresAt}` : "until revoked",
  ].join(", ");
}

/** `drydock api-keys create <name>`: prints the secret (this once) and how to use it. */
export async function createApiKeyCommand(
  env: CliEnv,
  name: string,
  flags: CreateKeyFlags,
): Promise<void> {
  if (name.trim() === "") throw new CliError("the key's name is empty");
  const input = {
    name,
    ceiling: parseRole(flags.ceiling ?? "editor", "--ceiling"),
    ...(flags.project !== undefined ? { project: checkProject(flags.project, "--project") } : {}),
    ...(flags.expiresInDays !== undefined
      ? { expiresInDays: expiryDays(flags.expiresInDays) }
      : {}),
  };
  const format = outputFormat(flags.output);
  await withApi(env, { endpoint: flags.endpoint, token: flags.token }, async (api, conn) => {
    const created = await api.apiKeys.create.mutate(input);
    if (format === "json") return printResult(created, "json");
    printResult(
      [
        `created API key ${created.key.id} "${created.key.name}": ${keyScope(created.key)}`,
        "",
        `  ${created.secret}`,
        "",
        "This is the only time the key is shown; store it now (only its hash is kept).",
        `Use it as DRYDOCK_ENDPOINT=${conn.endpoint} DRYDOCK_TOKEN=<key> drydock …,`,
        `or sign in with it: drydock login --endpoint ${conn.endpoint} --api-key -  (reads it from stdin)`,
      ].join("\n"),
      "text",
    );
  });
}

function keyStatus(key: ApiKey): string {
  if (key.revokedAt) return `revoked ${key.revokedAt}`;
  if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return "expired";
  return "active";
}

function formatKeys(keys: ApiKey[]): string {
  if (keys.length === 0) return "no API keys yet (`drydock api-keys create <name>` makes one)";
  return formatTable([
    ["ID", "NAME", "PREFIX", "CEILING", "PROJECT", "CREATED", "EXPIRES", "LAST USED", "STATUS"],
    ...keys.map((k) => [
      k.id,
      k.name,
      k.prefix,
      k.ceiling,
      k.project ?? "(all)",
      k.createdAt,
      k.expiresAt ?? "never",
      k.lastUsedAt ?? "never",
      keyStatus(k),
    ]),
  ]);
}

/** `drydock api-keys list`: my keys, without their secrets. */
export async function listApiKeysCommand(env: CliEnv, flags: Flags): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const keys = await api.apiKeys.list.query();
    printResult(format === "json" ? keys : formatKeys(keys), format);
  });
}

/** `drydock api-keys revoke <id>`: the key stops working at once. */
export async function revokeApiKeyCommand(env: CliEnv, id: string, flags: Flags): Promise<void> {
  if (id.trim() === "")
    throw new CliError("the key id is empty (`drydock api-keys list` shows them)");
  await printAnswer(
    env,
    flags,
    (api) => api.apiKeys.revoke.mutate({ id }),
    (key) => `revoked API key ${key.id} (${key.name}); it no longer works`,
  );
}
