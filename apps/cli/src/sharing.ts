/** Sharing a node's live IDE session with a teammate, and who has access to it. */
import type { InteractiveSession, SessionAccess } from "@drydock/contracts";

import type { ApiClient } from "./client.js";
import { outputFormat, withApi } from "./commands.js";
import type { ConnectionFlags } from "./context.js";
import { parseSpan } from "./durations.js";
import type { CliEnv } from "./env.js";
import { CliError } from "./errors.js";
import { nodeRef, taskOf } from "./interactive.js";
import type { NodeRef } from "./interactive.js";
import { formatTable, printResult } from "./output.js";

type Flags = ConnectionFlags & { output?: string };

/** How long a share lasts when `--for` is not given. */
export const DEFAULT_SHARE_FOR = "1h";

/** The node's sessions, newest first (an attempt records its latest). */
async function sessionsOf(api: ApiClient, ref: NodeRef): Promise<InteractiveSession[]> {
  const node = await api.executions.node.query(ref);
  return node.attempts
    .flatMap((a) => (a.session ? [a.session] : []))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** The node's latest session, live or ended; an error naming the node when it never had one. */
async function latestSession(api: ApiClient, ref: NodeRef): Promise<InteractiveSession> {
  const [latest] = await sessionsOf(api, ref);
  if (!latest)
    throw new CliError(
      `${taskOf(ref)} has had no IDE session (is its task interactive, and has it started?)`,
      1,
    );
  return latest;
}

/** The node's live session; an error saying why there is none (never had one, or it ended and how). */
async function liveSession(api: ApiClient, ref: NodeRef): Promise<InteractiveSession> {
  const latest = await latestSession(api, ref);
  if (latest.state === "ENDED")
    throw new CliError(
      `the IDE session of ${taskOf(ref)} has ended (${latest.endReason ?? "ended"}): only a live session can be shared`,
      1,
    );
  return latest;
}

function checkUser(user: string | undefined): string {
  if (user === undefined || user.trim() === "")
    throw new CliError("--with needs the teammate: a user id or an email address");
  return user.trim();
}

/** `drydock share <execution> <node> --with <user> [--for 1h]`: lets a teammate open the live IDE until then. */
export async function shareCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: Flags & { with?: string; for?: string },
): Promise<void> {
  const ref = nodeRef(execution, node);
  const user = checkUser(flags.with);
  const span = parseSpan(flags.for ?? DEFAULT_SHARE_FOR, "--for");
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const session = await liveSession(api, ref);
    const expiresAt = new Date(Date.now() + span).toISOString();
    const share = await api.sessions.share.mutate({ sessionId: session.id, user, expiresAt });
    if (format === "json") return printResult(share, "json");
    printResult(
      `shared the IDE of ${taskOf(ref)} with ${share.user.name} (${share.user.id}) until ${share.expiresAt}; they open it from the console; \`drydock unshare ${ref.executionId} ${ref.nodeId} --with ${user}\` ends it`,
      "text",
    );
  });
}

/** `drydock unshare <execution> <node> --with <user>`: ends the share; the relay closes their connections. */
export async function unshareCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: Flags & { with?: string },
): Promise<void> {
  const ref = nodeRef(execution, node);
  const user = checkUser(flags.with);
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const session = await liveSession(api, ref);
    const share = await api.sessions.revokeShare.mutate({ sessionId: session.id, user });
    if (format === "json") return printResult(share, "json");
    printResult(
      `${share.user.name} (${share.user.id}) may no longer open the IDE of ${taskOf(ref)}; their connections were closed`,
      "text",
    );
  });
}

function describeAccess(ref: NodeRef, state: string, access: SessionAccess): string {
  const who = (u: { id: string; name: string }) => `${u.name} (${u.id})`;
  const lines = [
    `IDE session ${access.sessionId} of ${taskOf(ref)} (${state})`,
    `owner: ${access.owner ? who(access.owner) : "unknown (launched before people existed)"}`,
    "",
  ];
  const shares = access.shares.map((s) => [
    who(s.user),
    who(s.grantedBy),
    s.expiresAt,
    s.revokedAt
      ? `revoked ${s.revokedAt}`
      : Date.parse(s.expiresAt) <= Date.now()
        ? "expired"
        : "active",
  ]);
  lines.push(
    shares.length === 0
      ? "shared with: nobody"
      : formatTable([["SHARED WITH", "BY", "UNTIL", "STATUS"], ...shares]),
    "",
  );
  lines.push(
    access.connected.length === 0
      ? "connected now: nobody"
      : formatTable([
          ["CONNECTED NOW", "CONNECTIONS", "SINCE"],
          ...access.connected.map((c) => [who(c.user), String(c.connections), c.since]),
        ]),
  );
  if (access.openedBy.length > 0)
    lines.push(
      "",
      formatTable([
        ["OPENED BY", "FIRST", "LAST", "TIMES"],
        ...access.openedBy.map((o) => [who(o.user), o.firstAt, o.lastAt, String(o.times)]),
      ]),
    );
  return lines.join("\n");
}

/** `drydock sessions access <execution> <node>`: owner, shares, who opened it and who is connected now. */
export async function sessionAccessCommand(
  env: CliEnv,
  execution: string,
  node: string,
  flags: Flags,
): Promise<void> {
  const ref = nodeRef(execution, node);
  const format = outputFormat(flags.output);
  await withApi(env, flags, async (api) => {
    const session = await latestSession(api, ref);
    const access = await api.sessions.access.query({ sessionId: session.id });
    printResult(format === "json" ? access : describeAccess(ref, session.state, access), format);
  });
}
