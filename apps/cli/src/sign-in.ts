/** Who the CLI acts as: `login`, `logout`, `whoami`, and `console`'s one-time sign-in link. */
import { text } from "node:stream/consumers";

import { DEFAULT_PROJECT } from "@drydock/contracts";
import type { ApiKey, Me } from "@drydock/contracts";

import type { ApiClient } from "./client.js";
import { isApiError, withClient } from "./client.js";
import { outputFormat, withApi } from "./commands.js";
import type { ConnectionFlags, CredentialSource, SavedContext } from "./context.js";
import {
  chooseEndpoint,
  contextFile,
  forgetContext,
  normalizeEndpoint,
  readSavedContext,
  saveContext,
} from "./context.js";
import { signInWithDevice } from "./device-flow.js";
import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";
import { formatTable, printResult } from "./output.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

/** `--api-key -` reads the key from stdin, so it stays out of the shell's history and `ps`. */
async function apiKeyFlag(value: string | undefined): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const key = (value === "-" ? await text(process.stdin) : value).trim();
  if (key === "")
    throw new CliError(value === "-" ? "no API key on stdin (--api-key -)" : "--api-key is empty");
  return key;
}

/**
 * The project to act in by default after signing in: the one saved for this server while it is still
 * visible, else none (then "default") when "default" is visible, else the first project the user may see.
 */
function defaultProject(me: Me, previous: SavedContext | undefined): string | undefined {
  const visible = new Set(me.projects.map((p) => p.id));
  if (previous?.project && visible.has(previous.project)) return previous.project;
  if (visible.has(DEFAULT_PROJECT) || me.projects.length === 0) return undefined;
  return me.projects[0]?.id;
}

const viaWords = (me: Me) =>
  me.via === "apiKey"
    ? `an API key${me.ceiling ? ` (acting as ${me.ceiling} at most)` : ""}`
    : me.via === "token"
      ? "the server's local token"
      : "a console session";

/** The credential to save: the key given, or one the server makes once the device flow is approved. */
async function obtainCredential(
  endpoint: string,
  key: string | undefined,
): Promise<{ token: string; source: CredentialSource }> {
  if (key) return { token: key, source: "apiKey" };
  const approved = await withClient({ endpoint }, (api) => signInWithDevice(api, endpoint, say));
  return { token: approved.apiKey, source: "device" };
}

/** Who the credential signs in as; a refused one is an error saying nothing was saved. */
async function checkCredential(endpoint: string, token: string, source: CredentialSource) {
  return withClient({ endpoint, token }, (api) =>
    api.auth.me.query().catch((error: Error) => {
      if (isApiError(error, "UNAUTHORIZED"))
        throw new CliError(
          `${endpoint} refused the ${source === "apiKey" ? "API key" : "new key"} (${error.message}): nothing was saved`,
          1,
        );
      throw error;
    }),
  );
}

/** `drydock login [--endpoint URL] [--api-key KEY]`: checks the credential with auth.me, then saves it. */
export async function loginCommand(
  env: CliEnv,
  flags: { endpoint?: string; apiKey?: string },
): Promise<void> {
  const saved = await readSavedContext(env);
  const endpoint = chooseEndpoint(env, flags, saved);
  if (!endpoint)
    throw new CliError("drydock login needs the server to sign in to: --endpoint <url>");
  const { token, source } = await obtainCredential(endpoint, await apiKeyFlag(flags.apiKey));
  const me = await checkCredential(endpoint, token, source);
  const previous = saved && normalizeEndpoint(saved.endpoint) === endpoint ? saved : undefined;
  const project = defaultProject(me, previous);
  await saveContext(env, { endpoint, token, source, ...(project ? { project } : {}) });
  say(`signed in to ${endpoint} as ${me.user.name} (${me.user.id}) with ${viaWords(me)}`);
  say(`saved in ${contextFile(env)}, readable by you only; \`drydock logout\` forgets it`);
  say(
    `project: ${project ?? DEFAULT_PROJECT}${me.projects.length > 1 ? " (`drydock projects use <id>` picks another)" : ""}`,
  );
}

/** The prefix an API key is recognised by, without the ellipsis a display may add. */
const keyPrefix = (key: ApiKey) => key.prefix.replace(/(…|\.\.\.)$/, "");

/**
 * Revokes the API key the device flow made for this CLI: the one key of mine, not yet revoked, whose prefix
 * the saved token starts with. Refuses to guess when that is not exactly one key.
 */
async function revokeOwnKey(api: ApiClient, token: string): Promise<ApiKey> {
  const me = await api.auth.me.query();
  const keys = await api.apiKeys.list.query();
  const mine = keys.filter(
    (k) => !k.revokedAt && k.owner.id === me.user.id && token.startsWith(keyPrefix(k)),
  );
  if (mine.length !== 1 || !mine[0])
    throw new CliError(
      `cannot tell which of your API keys it is (${mine.length} match its prefix)`,
      1,
    );
  return api.apiKeys.revoke.mutate({ id: mine[0].id });
}

/** `drydock logout`: forgets the saved credential, and revokes it first when `drydock login` made it. */
export async function logoutCommand(env: CliEnv): Promise<void> {
  const saved = await readSavedContext(env);
  if (!saved) {
    say(`not signed in: nothing saved in ${contextFile(env)}`);
    return;
  }
  const revoked =
    saved.source === "device"
      ? await withClient(saved, (api) => revokeOwnKey(api, saved.token)).catch(
          (error: Error) => error,
        )
      : undefined;
  await forgetContext(env);
  say(`forgot the credential for ${saved.endpoint} (${contextFile(env)})`);
  if (env.token) say("DRYDOCK_TOKEN is still set in this environment, and still used");
  if (revoked instanceof Error)
    throw new CliError(
      `could not revoke the API key \`drydock login\` made for it: ${revoked.message} — revoke it in the console or with \`drydock api-keys revoke <id>\``,
      1,
    );
  if (revoked) say(`revoked its API key ${revoked.id} (${revoked.name})`);
}

function describeMe(me: Me, project: string): string {
  const user = me.user;
  const lines = [
    `${user.name} (${user.id}${user.email ? `, ${user.email}` : ""})${user.instanceAdmin ? ", instance admin" : ""}`,
    `signed in with ${viaWords(me)}; commands act in project ${project}`,
  ];
  if (me.projects.length === 0) lines.push("no projects yet: an admin adds you to one");
  else
    lines.push(
      "",
      formatTable([["PROJECT", "NAME", "ROLE"], ...me.projects.map((p) => [p.id, p.name, p.role])]),
    );
  return lines.join("\n");
}

/** `drydock whoami`: auth.me — the user, how they signed in, and their projects with their roles. */
export async function whoamiCommand(
  env: CliEnv,
  flags: ConnectionFlags & { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api, conn) => {
    const me = await api.auth.me.query();
    printResult(format === "json" ? me : describeMe(me, conn.project), format);
  });
}

/** `drydock console`: a fresh one-time link that signs a browser into the console (never the token itself). */
export async function consoleCommand(
  env: CliEnv,
  flags: ConnectionFlags & { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const link = await api.auth.signInCode.mutate();
    if (format === "json") return printResult(link, "json");
    process.stderr.write(`one-time sign-in link, valid until ${link.expiresAt}:\n`);
    printResult(link.url, "text");
  });
}
