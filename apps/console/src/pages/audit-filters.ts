/**
 * The audit page's model: its filters (kept in the URL, so a filtered view can be linked), the input of
 * `audit.list` / `audit.listAll` they make, and how an entry reads in the table.
 */
import { AUDIT_ACTIONS } from "@drydock/contracts/constants";

import type { AuditAction, AuditEntry, ListAuditInput } from "../ui/types.js";

/** Every action the log records, as people read it; a new action in the contracts fails the type check here. */
export const AUDIT_ACTION_LABELS: Record<AuditAction, string> = {
  "auth.sign_in": "Signed in",
  "auth.sign_out": "Signed out",
  "auth.sign_in_code": "Sign-in code issued",
  "api_key.create": "API key created",
  "api_key.revoke": "API key revoked",
  "project.create": "Project created",
  "project.member_set": "Member changed",
  "workflow.register": "Workflow registered",
  "execution.create": "Execution launched",
  "execution.abort": "Execution aborted",
  "execution.debug": "Debug run started",
  "execution.recover": "Execution recovered",
  "execution.fork": "Execution forked with edits",
  "ide_ticket.issue": "IDE ticket issued",
  "ide_ticket.redeem": "IDE opened",
  "session.resume": "Session resumed",
  "session.keep_alive": "Session kept alive",
  "session.changes": "Changes downloaded",
  "session.share": "Session shared",
  "session.revoke_share": "Share revoked",
};

export { AUDIT_ACTIONS };

/** How many entries one page asks for. */
export const AUDIT_PAGE_SIZE = 100;

export interface AuditFilters {
  /** ISO timestamps. */
  since?: string;
  until?: string;
  actions: AuditAction[];
  /** A user id or email. */
  actor?: string;
  executionId?: string;
  /** Every project's entries, sign-ins included (instance admins: `audit.listAll`). */
  allProjects: boolean;
}

function isAuditAction(value: string): value is AuditAction {
  return Object.hasOwn(AUDIT_ACTION_LABELS, value);
}

/** A date the URL holds, as ISO; undefined for one that is not a date (the server would refuse it). */
function readInstant(value: string | null): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function readText(value: string | null): string | undefined {
  const text = value?.trim();
  return text ? text : undefined;
}

/** The filters a URL's search holds (`?since=…&action=session.share&action=…&actor=…&execution=…&all=1`). */
export function readAuditFilters(search: URLSearchParams): AuditFilters {
  const filters: AuditFilters = {
    actions: [...new Set(search.getAll("action").filter(isAuditAction))],
    allProjects: search.get("all") === "1",
  };
  const since = readInstant(search.get("since"));
  const until = readInstant(search.get("until"));
  const actor = readText(search.get("actor"));
  const executionId = readText(search.get("execution"));
  if (since) filters.since = since;
  if (until) filters.until = until;
  if (actor) filters.actor = actor;
  if (executionId) filters.executionId = executionId;
  return filters;
}

/** The URL search for a project's filtered view, without the empty filters. */
export function auditFiltersSearch(filters: AuditFilters, project: string): URLSearchParams {
  const search = new URLSearchParams({ project });
  if (filters.since) search.set("since", filters.since);
  if (filters.until) search.set("until", filters.until);
  for (const action of filters.actions) search.append("action", action);
  if (filters.actor) search.set("actor", filters.actor);
  if (filters.executionId) search.set("execution", filters.executionId);
  if (filters.allProjects) search.set("all", "1");
  return search;
}

export type AuditFilterInput = Omit<ListAuditInput, "project">;

/** The procedure and its input for one page: `before` is the previous page's `nextBefore`. */
export function auditQueryInput(
  filters: AuditFilters,
  project: string,
  before?: string,
):
  { procedure: "listAll"; input: AuditFilterInput } | { procedure: "list"; input: ListAuditInput } {
  const input: AuditFilterInput = { limit: AUDIT_PAGE_SIZE };
  if (filters.since) input.since = filters.since;
  if (filters.until) input.until = filters.until;
  if (filters.actions.length > 0) input.actions = filters.actions;
  if (filters.actor) input.actor = filters.actor;
  if (filters.executionId) input.executionId = filters.executionId;
  if (before) input.before = before;
  return filters.allProjects
    ? { procedure: "listAll", input }
    : { procedure: "list", input: { ...input, project } };
}

/** `2030-01-01T10:00:00Z` → the `datetime-local` value of that instant in this browser's time zone. */
export function isoToLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value (this browser's time zone) → ISO; undefined when empty or not a date. */
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** Who acted, as the table says it: "Ada (API key)", "the IDE's agent", "Drydock". */
export function actorText(actor: AuditEntry["actor"]): string {
  if (actor.kind === "agent") return "the IDE's agent";
  if (actor.kind === "system") return "Drydock";
  const name = actor.user?.name ?? "someone";
  return actor.via === "apiKey" ? `${name} (API key)` : name;
}

/** An entry's particulars on one line: `choice: resume · user: bob`. */
export function detailText(detail: AuditEntry["detail"]): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" · ");
}
