/**
 * The audit log after a journey through a real `drydock up`: a sign-in by code in Chromium, an API key made and
 * revoked, a teammate added, a workflow registered and launched with the key, an IDE ticket issued and redeemed
 * in Chromium, keep-alive, the changes downloaded, a share and its revocation, a resume, a debug run, and the
 * abort of that other execution. `audit.list`/`audit.listAll` and `drydock audit --since … --output json` hold
 * each action with the right user, credential, project, execution, node and session; and nothing in the API
 * alters or deletes an entry.
 */
import { AuditEntrySchema, LOCAL_ADMIN_ID } from "@drydock/contracts";
import type { AuditAction, AuditEntry, CredentialKind } from "@drydock/contracts";
import { appProcedures } from "@drydock/contracts/router";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

import { drydock, launchChromium, startStack, tearDown, waitFor } from "../harness.js";
import type { Stack } from "../harness.js";
import { launchInteractivePipeline, readySession } from "../interactive-pipeline.js";
import { signInPage } from "../sign-in.js";
import { INTERACTIVE_NODE, openIde } from "./session-ide.js";

/** A teammate added by email, who never signs in: enough to share a session with. */
const TEAMMATE = "bob@example.com";

let stack: Stack | undefined;
let browser: Browser | undefined;
/** The other execution, the debug run, which the journey aborts (and afterAll again, in case it did not). */
let debugId: string | undefined;

/** What the journey did, to find in the log. */
interface Expected {
  action: AuditAction;
  via?: CredentialKind;
  apiKeyId?: string;
  project?: string;
  /** The execution it acted on (either one, where an action touches two: a debug run's original and new). */
  executionId?: string | string[];
  nodeId?: string;
  sessionId?: string;
  /** Done by a browser: the entry says from where (Chromium's user agent). */
  fromBrowser?: boolean;
}

const expected: Expected[] = [];
let since = "";
/** The log's entries before the journey's last steps, to compare with a later read. */
let earlier: AuditEntry[] = [];

const running = (): Stack => {
  if (!stack) throw new Error("the stack did not start");
  return stack;
};

/** The journey, as the local admin (its token, a key of its own, and its browser). */
async function runJourney(s: Stack): Promise<void> {
  browser = await launchChromium();
  const context = await browser.newContext();
  await signInPage(await context.newPage(), s);
  expected.push({ action: "auth.sign_in_code", via: "token" });
  expected.push({ action: "auth.sign_in", fromBrowser: true });

  const { key, secret } = await s.api.apiKeys.create.mutate({
    name: "journey",
    ceiling: "editor",
  });
  expected.push({ action: "api_key.create", via: "token" });
  await s.api.projects.setMember.mutate({ project: "default", user: TEAMMATE, role: "viewer" });
  expected.push({ action: "project.member_set", via: "token", project: "default" });

  // `drydock run --remote` with the key registers the pipeline and launches it.
  const executionId = await launchInteractivePipeline({
    ...s,
    env: { ...s.env, DRYDOCK_ENDPOINT: s.url, DRYDOCK_TOKEN: secret },
  });
  expected.push({
    action: "workflow.register",
    via: "apiKey",
    apiKeyId: key.id,
    project: "default",
  });
  expected.push({ action: "execution.create", via: "apiKey", apiKeyId: key.id, executionId });
  const session = await readySession(s, executionId);
  const node = { executionId, nodeId: INTERACTIVE_NODE };
  const inSession = { ...node, sessionId: session.id, project: "default" };

  await openIde(context, s.api, session.id);
  expected.push({ action: "ide_ticket.issue", via: "token", ...inSession });
  expected.push({ action: "ide_ticket.redeem", fromBrowser: true, sessionId: session.id });
  await s.api.sessions.keepAlive.mutate(node);
  expected.push({ action: "session.keep_alive", via: "token", ...node });
  await s.api.sessions.changes.query(node);
  expected.push({ action: "session.changes", via: "token", ...node });
  await s.api.sessions.share.mutate({
    sessionId: session.id,
    user: TEAMMATE,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  expected.push({ action: "session.share", via: "token", sessionId: session.id });
  await s.api.sessions.revokeShare.mutate({ sessionId: session.id, user: TEAMMATE });
  expected.push({ action: "session.revoke_share", via: "token", sessionId: session.id });
  earlier = (await s.api.audit.listAll.query({ since, limit: 1_000 })).entries;

  await s.api.sessions.resume.mutate(node);
  expected.push({ action: "session.resume", via: "token", ...node });
  await waitFor("the pipeline to succeed", async () => {
    const { execution } = await s.api.executions.get.query({ id: executionId });
    return execution.status === "SUCCEEDED" ? true : undefined;
  });

  const debug = await s.api.executions.debug.mutate(node);
  debugId = debug.id;
  expected.push({
    action: "execution.debug",
    via: "token",
    nodeId: INTERACTIVE_NODE,
    executionId: [executionId, debug.id],
  });
  await s.api.executions.abort.mutate({ id: debug.id });
  expected.push({ action: "execution.abort", via: "token", executionId: debug.id });

  await s.api.apiKeys.revoke.mutate({ id: key.id });
  expected.push({ action: "api_key.revoke", via: "token" });
  await context.close();
}

beforeAll(async () => {
  stack = await startStack();
  since = new Date(Date.now() - 1_000).toISOString();
  await runJourney(stack);
}, 300_000);

afterAll(() => tearDown({ browser, executionId: debugId, stack }));

/** Whether `entry` records `e`, done by the local admin. */
function records(entry: AuditEntry, e: Expected): boolean {
  const matches = <T>(want: T | undefined, got: T | undefined) =>
    want === undefined || want === got;
  return (
    entry.action === e.action &&
    entry.actor.kind === "user" &&
    entry.actor.user?.id === LOCAL_ADMIN_ID &&
    matches(e.via, entry.actor.via) &&
    matches(e.apiKeyId, entry.actor.apiKeyId) &&
    matches(e.project, entry.project) &&
    (e.executionId === undefined || [e.executionId].flat().includes(entry.executionId ?? "")) &&
    matches(e.nodeId, entry.nodeId) &&
    matches(e.sessionId, entry.sessionId) &&
    (!e.fromBrowser || /Chrome/.test(entry.userAgent ?? ""))
  );
}

/** The journey's steps that no entry records (all of them named, for a failure that says which). */
const missingFrom = (entries: AuditEntry[]) =>
  expected.filter((e) => !entries.some((entry) => records(entry, e)));

/** Every procedure of the app router, as `domain.name` with its kind. */
function everyProcedure(): { path: string; kind: string }[] {
  const found: { path: string; kind: string }[] = [];
  const walk = (table: object, prefix: string) => {
    for (const [name, value] of Object.entries(table) as [string, unknown][]) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (typeof value !== "object" || value === null) continue;
      if ("kind" in value) found.push({ path, kind: String(value.kind) });
      else walk(value, path);
    }
  };
  walk(appProcedures, "");
  return found;
}

describe("the audit log of a journey", () => {
  it("holds every action of the journey in audit.listAll with the right user, credential and references", async () => {
    const { entries, nextBefore } = await running().api.audit.listAll.query({
      since,
      limit: 1_000,
    });
    expect(nextBefore).toBeUndefined();
    expect(expected.length).toBe(16);
    expect(missingFrom(entries)).toEqual([]);
    // Where from: the browser's redemption carries an address.
    expect(entries.find((e) => e.action === "ide_ticket.redeem")?.ip).toMatch(/127\.0\.0\.1|::1/);
    // The resume records the choice it was made with.
    expect(entries.find((e) => e.action === "session.resume")?.detail).not.toEqual({});
  });

  it("holds the project's actions in audit.list, filtered by action and execution", async () => {
    const project = await running().api.audit.list.query({
      project: "default",
      since,
      limit: 1_000,
    });
    const inProject = expected.filter((e) => e.executionId !== undefined);
    expect(inProject.filter((e) => !project.entries.some((entry) => records(entry, e)))).toEqual(
      [],
    );
    for (const entry of project.entries) expect(entry.project).toBe("default");
    const aborts = await running().api.audit.list.query({
      project: "default",
      since,
      actions: ["execution.abort"],
      executionId: debugId,
      limit: 10,
    });
    expect(aborts.entries.map((e) => [e.action, e.executionId])).toEqual([
      ["execution.abort", debugId],
    ]);
  });

  it("is exported by `drydock audit --since … --output json` with the same entries", async () => {
    const all = await drydock(
      ["audit", "--since", since, "--all", "--output", "json"],
      running().env,
    );
    expect(all.code, all.stderr).toBe(0);
    const exported = z.array(AuditEntrySchema).parse(JSON.parse(all.stdout));
    expect(missingFrom(exported)).toEqual([]);
    const project = await drydock(["audit", "--since", since, "--output", "json"], running().env);
    expect(project.code, project.stderr).toBe(0);
    const projectEntries = z.array(AuditEntrySchema).parse(JSON.parse(project.stdout));
    expect(projectEntries.length).toBeGreaterThan(0);
    for (const entry of projectEntries) expect(entry.project).toBe("default");
  });

  it("cannot be altered through the API: no procedure writes it, none answers for it, and entries stay as written", async () => {
    const procedures = everyProcedure();
    expect(procedures.length).toBeGreaterThan(30);
    const audit = procedures.filter((p) => p.path.startsWith("audit."));
    expect(audit).toEqual([
      { path: "audit.list", kind: "query" },
      { path: "audit.listAll", kind: "query" },
    ]);
    expect(procedures.filter((p) => p.kind !== "query" && /audit/i.test(p.path))).toEqual([]);
    // Procedures that do not exist, asked with the instance admin's own token, answer 404.
    for (const name of [
      "audit.delete",
      "audit.update",
      "audit.clear",
      "audit.purge",
      "audit.set",
    ]) {
      const answer = await fetch(`${running().url}/trpc/${name}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${running().token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ id: earlier[0]?.id ?? "1" }),
      });
      expect(answer.status, name).toBe(404);
    }
    // What was read before the journey's last steps is unchanged after them.
    const now = (await running().api.audit.listAll.query({ since, limit: 1_000 })).entries;
    expect(earlier.length).toBeGreaterThan(5);
    for (const entry of earlier) expect(now.find((e) => e.id === entry.id)).toEqual(entry);
  });
});
