import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";

import { T, testMe, testSession, withIdentity } from "../__tests__/fixtures.js";
import type { InteractiveSession, Me, SessionAccess, UserRef } from "../ui/types.js";

// api.ts opens a WebSocket client against `location` when imported; the panel only needs the names.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String, appCode: () => undefined }));
const { SessionPanel } = await import("./SessionPanel.js");

const session = testSession;

const editor = testMe({ default: "editor" });

interface Seen {
  /** Who looks (default: an editor of the project). */
  me?: Me;
  /** What `sessions.access` answered. */
  access?: SessionAccess;
  owner?: UserRef;
}

function render(s: InteractiveSession, { me = editor, access, owner }: Seen = {}): string {
  const client = new QueryClient();
  if (access) client.setQueryData(["sessions", "access", s.id], access);
  const panel = createElement(SessionPanel, {
    executionId: "x1",
    nodeId: "n0",
    session: s,
    project: "default",
    owner,
  });
  return renderToStaticMarkup(
    createElement(QueryClientProvider, { client }, withIdentity(me, panel)),
  );
}

describe("SessionPanel", () => {
  it("shows no VSCode (User) link while the IDE is starting", () => {
    const html = render(session({ link: "http://s1abc.localhost:8485/" }));
    expect(html).toContain("VS Code is starting…");
    expect(html).not.toContain(">VSCode (User)</a>");
  });

  it("shows the VSCode (User) link, the idle countdown and Keep alive once READY", () => {
    const deadline = new Date(Date.now() + 299_500).toISOString();
    const html = render(
      session({ state: "READY", link: "http://s1abc.localhost:8485/", idleDeadline: deadline }),
    );
    expect(html).toMatch(
      /<a [^>]*href="http:\/\/s1abc\.localhost:8485\/"[^>]*>VSCode \(User\)<\/a>/,
    );
    expect(html).toContain(`data-testid="idle-countdown" data-deadline="${deadline}"`);
    expect(html).toMatch(/Ends idle in 4m 5\ds/);
    expect(html).toContain(">Keep alive</button>");
    expect(html).toContain(">Resume</button>");
  });

  it("says a resume was asked for, and offers Resume no more", () => {
    const html = render(session({ state: "READY", link: "http://x/", resumeRequestedAt: T }));
    expect(html).toContain("Resume requested…");
    expect(html).toMatch(/<button type="button" disabled="">Resume<\/button>/);
  });

  it("says why an ended session ended, without link, countdown or Resume", () => {
    const html = render(
      session({
        state: "ENDED",
        endReason: "idle",
        link: "http://x/",
        idleDeadline: T,
        resumeRequestedAt: T,
      }),
    );
    expect(html).toContain("Session ended: idle");
    expect(html).not.toContain("VSCode (User)</a>");
    expect(html).not.toContain("idle-countdown");
    expect(html).not.toContain("Resume requested");
    expect(html).not.toContain(">Resume</button>");
  });

  it("shows a runTaskFirst failure with its stack, and extensions that failed", () => {
    const html = render(
      session({
        state: "READY",
        firstRunError: {
          message: "say_hello needs a name",
          stack: "Error: say_hello needs a name\n    at workflow.ts:12:9",
        },
        extensionProblems: [
          { extension: "https://example.invalid/vim.vsix", message: "download failed" },
        ],
      }),
    );
    expect(html).toContain("The first run failed; the IDE opened to debug it");
    expect(html).toMatch(
      /<pre class="error-stack"[^>]*>Error: say_hello needs a name\n {4}at workflow.ts:12:9<\/pre>/,
    );
    expect(html).toContain("download failed");
  });
});

describe("SessionPanel of a paused task", () => {
  const inFiveMinutes = () => new Date(Date.now() + 299_500).toISOString();
  const thrown = {
    reason: "exception" as const,
    file: "steps.ts",
    line: 12,
    message: "boom",
    name: "Error",
    stack: "Error: boom\n    at parse (steps.ts:12:11)",
    at: T,
  };
  const paused = (extra: Partial<InteractiveSession> = {}) =>
    session({
      state: "READY",
      link: "http://s1abc.localhost:8485/",
      idleDeadline: inFiveMinutes(),
      pause: thrown,
      ...extra,
    });
  const choices = (html: string) =>
    [
      ...html.matchAll(/<button type="button"[^>]* data-choice="(\w+)"[^>]*>([^<]*)<\/button>/g),
    ].map((m) => `${m[1]}: ${m[2]}`);

  it("says where the task is paused, and offers the three choices instead of Resume", () => {
    const html = render(paused());
    expect(html).toMatch(
      /data-testid="session-pause" data-reason="exception"><p class="session-pause-where">paused at steps.ts:12: boom<\/p>/,
    );
    expect(html).toContain("at parse (steps.ts:12:11)</pre>");
    expect(choices(html)).toEqual([
      "edited: Resume with edits",
      "original: Run original again",
      "fail: End as failed",
    ]);
    expect(html).not.toContain(">Resume</button>");
    expect(html).not.toContain("Resume requested");
  });

  it("says a task held by a pause point is paused before it runs", () => {
    const html = render(
      paused({ pause: { reason: "before", file: "steps.ts", line: 3, message: "x", at: T } }),
    );
    expect(html).toContain(
      'data-reason="before"><p class="session-pause-where">paused before the task at steps.ts:3</p>',
    );
    expect(choices(html)).toHaveLength(3);
  });

  it("keeps Resume for a session that is not paused, and shows no pause", () => {
    const html = render(paused({ pause: undefined }));
    expect(html).not.toContain("session-pause");
    expect(html).toContain(">Resume</button>");
    expect(choices(html)).toEqual([]);
  });

  it("says which choice was asked for, and offers none once one was", () => {
    const html = render(paused({ resumeRequestedAt: T, resumeChoice: "original" }));
    expect(html).toContain('<span role="status">Resume requested: run original again…</span>');
    expect(html).toMatch(/data-choice="fail" disabled="">End as failed<\/button>/);
    expect(html).toMatch(/data-choice="edited" disabled="">Resume with edits<\/button>/);
  });

  it("disables the choices for a viewer, naming the role they need", () => {
    const html = render(paused(), { me: testMe({ default: "viewer" }) });
    expect(html).toContain(
      'data-choice="original" disabled="" title="Needs the editor role in project default (you are a viewer)">Run original again</button>',
    );
  });

  it("counts down to the unopened end while nobody has opened the IDE", () => {
    const deadline = inFiveMinutes();
    const html = render(paused({ limit: "unopened", idleDeadline: deadline }));
    expect(html).toContain(
      `data-testid="idle-countdown" data-deadline="${deadline}" data-limit="unopened"`,
    );
    expect(html).toMatch(/Session ends in 4m 5\ds unless opened/);
    expect(html).not.toContain("Ends idle");
    expect(render(paused({ limit: "idle" }))).toMatch(/Ends idle in 4m 5\ds/);
  });

  it("says why a session nobody opened ended", () => {
    const html = render(
      session({ state: "ENDED", endReason: "unopened", maxUnopenedSeconds: 90, pause: thrown }),
    );
    expect(html).toContain(
      "Session ended: unopened — nobody opened the IDE within 90 s (its maxUnopenedSeconds), so it was stopped and the attempt failed.",
    );
    expect(html).not.toContain("session-pause");
    expect(choices(html)).toEqual([]);
  });
});

describe("SessionPanel for people with other roles", () => {
  const ready = () =>
    session({
      state: "READY",
      link: "http://s1abc.localhost:8485/",
      idleDeadline: new Date(Date.now() + 299_500).toISOString(),
    });
  const ada = { id: "u-ada", name: "Ada" };
  const bob = { id: "u-bob", name: "Bob" };
  const carol = { id: "u-carol", name: "Carol" };
  const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
  const access = (extra: Partial<SessionAccess> = {}): SessionAccess => ({
    sessionId: "s1abc",
    owner: ada,
    shares: [],
    openedBy: [],
    connected: [],
    ...extra,
  });
  const viewer = testMe({ default: "viewer" }, { id: "u-bob", name: "Bob" });

  it("disables VSCode (User), Keep alive and Resume for a viewer, saying why", () => {
    const html = render(ready(), { me: viewer, access: access(), owner: ada });
    expect(html).not.toContain(">VSCode (User)</a>");
    expect(html).toMatch(
      /<button type="button" class="primary" disabled="" title="Ask the owner to share this session">VSCode \(User\)<\/button>/,
    );
    const needsEditor = "Needs the editor role in project default (you are a viewer)";
    expect(html).toContain(`disabled="" title="${needsEditor}">Keep alive</button>`);
    expect(html).toContain(`disabled="" title="${needsEditor}">Resume</button>`);
  });

  it("gives a viewer the VSCode (User) link while the session is shared with them", () => {
    const shared = access({
      shares: [{ user: bob, grantedBy: ada, createdAt: T, expiresAt: inAnHour() }],
    });
    const html = render(ready(), { me: viewer, access: shared, owner: ada });
    expect(html).toMatch(
      /<a [^>]*href="http:\/\/s1abc\.localhost:8485\/"[^>]*>VSCode \(User\)<\/a>/,
    );
    // A share that was revoked gives nothing.
    const revoked = access({
      shares: [{ user: bob, grantedBy: ada, createdAt: T, expiresAt: inAnHour(), revokedAt: T }],
    });
    expect(render(ready(), { me: viewer, access: revoked, owner: ada })).not.toContain(
      ">VSCode (User)</a>",
    );
  });

  it("shows the owner the shares with Revoke, the Share form, and who is connected", () => {
    const html = render(ready(), {
      me: editor,
      owner: ada,
      access: access({
        shares: [{ user: bob, grantedBy: ada, createdAt: T, expiresAt: inAnHour() }],
        connected: [
          { user: bob, connections: 2, since: T },
          { user: carol, connections: 1, since: T },
        ],
        openedBy: [{ user: bob, firstAt: T, lastAt: T, times: 3 }],
      }),
    });
    expect(html).toMatch(/data-testid="shared-with"><li><span class="share-who">Bob<\/span>/);
    expect(html).toContain('aria-label="Revoke access for Bob">Revoke</button>');
    expect(html).toMatch(/<form class="share-form"[^>]* aria-label="Share this session">/);
    expect(html).toContain(">Teammate (email or id)</label>");
    expect(html).toMatch(
      /<select[^>]*><option value="1" selected="">1 hour<\/option><option value="8">8 hours<\/option><option value="24">24 hours<\/option><\/select>/,
    );
    expect(html).toContain('<button type="submit">Share</button>');
    expect(html).toMatch(
      /data-testid="connected-now"><li data-user="u-bob">Bob <span class="muted">2 connections, since /,
    );
    expect(html).toContain(
      '<li data-user="u-carol">Carol <span class="muted">1 connection, since ',
    );
    expect(html).toMatch(/data-testid="opened-by"><li>Bob <span class="muted">3 times, last at /);
  });

  it("offers neither Share nor Revoke to an editor who is not the owner", () => {
    const html = render(ready(), {
      me: editor,
      owner: bob,
      access: access({
        owner: bob,
        shares: [{ user: carol, grantedBy: bob, createdAt: T, expiresAt: inAnHour() }],
      }),
    });
    expect(html).toContain(">Carol</span>");
    expect(html).not.toContain("Revoke access for");
    expect(html).not.toContain("Share this session");
    expect(html).toContain("Nobody is connected now.");
  });

  it("lets a project admin share someone else's session", () => {
    const admin = testMe({ default: "admin" });
    const html = render(ready(), { me: admin, owner: bob, access: access({ owner: bob }) });
    expect(html).toContain('aria-label="Share this session"');
  });
});
