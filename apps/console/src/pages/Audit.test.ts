import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import { Router } from "wouter";

import { T, testMe, withIdentity } from "../__tests__/fixtures.js";
import type { AuditEntry, Me } from "../ui/types.js";

// api.ts opens a WebSocket client against `location` when imported; rendering on the server needs none of it.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String }));
const { AuditPage } = await import("./Audit.js");

const share: AuditEntry = {
  id: "41",
  at: T,
  action: "session.share",
  actor: { kind: "user", user: { id: "u-ada", name: "Ada" }, via: "session" },
  project: "ops",
  executionId: "x1",
  nodeId: "n0",
  sessionId: "s1",
  detail: { user: "bob@example.com", hours: 8 },
  ip: "10.0.0.7",
  userAgent: "Chromium",
};

function render(search: string, nextBefore?: string, me: Me = testMe({ ops: "admin" })) {
  const client = new QueryClient();
  const filters = { actions: ["session.share"], allProjects: search.includes("all=1") };
  client.setQueryData(["audit", "ops", filters], {
    pages: [{ entries: [share], ...(nextBefore ? { nextBefore } : {}) }],
    pageParams: [undefined],
  });
  const page = withIdentity(me, createElement(AuditPage, { project: "ops" }));
  return renderToStaticMarkup(
    createElement(
      QueryClientProvider,
      { client },
      createElement(Router, { ssrPath: "/audit", ssrSearch: search, children: page }),
    ),
  );
}

describe("AuditPage", () => {
  it("lists who did what, when, where, on which execution and node, with older pages", () => {
    const html = render("project=ops&action=session.share", "41");
    expect(html).toContain('<table class="list" aria-label="Audit log">');
    expect(html).toContain('<tr data-action="session.share">');
    expect(html).toContain("<td>Ada</td>");
    expect(html).toContain('<a href="/executions/x1?node=n0"><code>x1 n0</code></a>');
    expect(html).toContain("user: bob@example.com · hours: 8");
    expect(html).toContain('title="Chromium">10.0.0.7</td>');
    expect(html).toContain(
      '<option value="session.share" selected="">Session shared (session.share)</option>',
    );
    expect(html).toContain(">Older entries</button>");
    expect(html).not.toContain("All projects");
  });

  it("says where the log begins, and gives instance admins the all-projects switch", () => {
    const admin = testMe({}, { instanceAdmin: true });
    const html = render("project=ops&action=session.share&all=1", undefined, admin);
    expect(html).toContain("Audit log of every project");
    expect(html).toMatch(/<input type="checkbox" checked=""\/> All projects/);
    expect(html).toContain('<th scope="col">Project</th>');
    expect(html).toContain("The beginning of the log.");
    expect(html).not.toContain(">Older entries</button>");
  });
});
