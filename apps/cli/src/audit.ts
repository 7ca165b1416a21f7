/** `drydock audit`: the audit log, every page of it, as JSON or a table. */
import { AUDIT_ACTIONS, AuditActionSchema } from "@drydock/contracts";
import type { AuditAction, AuditEntry } from "@drydock/contracts";

import type { ApiClient } from "./client.js";
import { withApi } from "./commands.js";
import type { ConnectionFlags } from "./context.js";
import { parseInstant } from "./durations.js";
import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";
import { formatTable, printResult } from "./output.js";

export interface AuditFlags extends ConnectionFlags {
  since?: string;
  until?: string;
  action?: string;
  actor?: string;
  execution?: string;
  all?: boolean;
  output?: string;
}

/** The most the API hands out per page; fewer round trips for a long export. */
const PAGE_SIZE = 1_000;

function auditFormat(value: string | undefined): "json" | "table" {
  if (value === undefined || value === "table" || value === "text") return "table";
  if (value === "json") return "json";
  throw new CliError(`--output must be "json" or "table", not "${value}"`);
}

function parseActions(value: string | undefined): AuditAction[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  if (names.length === 0) throw new CliError("--action names no action");
  return names.map((name) => {
    const action = AuditActionSchema.safeParse(name);
    if (!action.success)
      throw new CliError(
        `--action: "${name}" is not an audited action (they are: ${AUDIT_ACTIONS.join(", ")})`,
      );
    return action.data;
  });
}

/** The filter the API takes, from the flags; every bad flag is a usage error before any call. */
function auditFilter(flags: AuditFlags) {
  const since = flags.since === undefined ? undefined : parseInstant(flags.since, "--since");
  const until = flags.until === undefined ? undefined : parseInstant(flags.until, "--until");
  if (since && until && since > until)
    throw new CliError(`--since (${since}) is after --until (${until})`);
  const actions = parseActions(flags.action);
  return {
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(actions ? { actions } : {}),
    ...(flags.actor !== undefined ? { actor: flags.actor } : {}),
    ...(flags.execution !== undefined ? { executionId: flags.execution } : {}),
    limit: PAGE_SIZE,
  };
}

/** Pages through the log from the newest entry to the oldest that matches, following `nextBefore`. */
async function readAllEntries(
  api: ApiClient,
  filter: ReturnType<typeof auditFilter>,
  project: string | undefined,
): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let before: string | undefined;
  do {
    const page =
      project === undefined
        ? await api.audit.listAll.query({ ...filter, ...(before ? { before } : {}) })
        : await api.audit.list.query({ ...filter, project, ...(before ? { before } : {}) });
    entries.push(...page.entries);
    before = page.nextBefore;
  } while (before !== undefined);
  return entries;
}

function actorOf(entry: AuditEntry): string {
  const { actor } = entry;
  if (actor.kind !== "user") return actor.kind;
  const who = actor.user ? actor.user.id : "?";
  return actor.via === "apiKey" ? `${who} (key ${actor.apiKeyId ?? "?"})` : who;
}

function formatEntries(entries: AuditEntry[]): string {
  if (entries.length === 0) return "no audit entries match";
  return formatTable([
    ["AT", "ACTION", "ACTOR", "PROJECT", "EXECUTION", "NODE", "FROM", "DETAIL"],
    ...entries.map((e) => [
      e.at,
      e.action,
      actorOf(e),
      e.project ?? "",
      e.executionId ?? "",
      e.nodeId ?? "",
      e.ip ?? "",
      Object.keys(e.detail).length > 0 ? JSON.stringify(e.detail) : "",
    ]),
  ]);
}

/**
 * `drydock audit`: the project's audit log (project admins), or with `--all` every entry of the instance
 * (instance admins), newest first; `--output json` prints one JSON array of every matching entry.
 */
export async function auditCommand(env: CliEnv, flags: AuditFlags): Promise<void> {
  const format = auditFormat(flags.output);
  const filter = auditFilter(flags);
  if (flags.all && flags.project !== undefined)
    throw new CliError("--all reads every project's entries: leave out --project");
  await withApi(env, flags, async (api, conn) => {
    const entries = await readAllEntries(api, filter, flags.all ? undefined : conn.project);
    printResult(
      format === "json" ? entries : formatEntries(entries),
      format === "json" ? "json" : "text",
    );
  });
}
