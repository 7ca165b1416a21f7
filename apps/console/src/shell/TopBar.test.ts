import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Router } from "wouter";

import { testMe, withIdentity } from "../__tests__/fixtures.js";
import type { Me } from "../ui/types.js";
import { TopBar } from "./TopBar.js";

function render(me: Me, path: string, search = ""): string {
  return renderToStaticMarkup(
    createElement(Router, {
      ssrPath: path,
      ssrSearch: search,
      children: withIdentity(me, createElement(TopBar)),
    }),
  );
}

describe("TopBar", () => {
  it("shows the project in the URL, its pages with the project, and who is signed in", () => {
    const html = render(testMe({ default: "viewer", ops: "admin" }), "/members", "project=ops");
    expect(html).toMatch(/<label for="[^"]+">Project<\/label><select id="[^"]+">/);
    expect(html).toContain('<option value="default">default</option>');
    expect(html).toContain('<option value="ops" selected="">ops</option>');
    expect(html).toContain('<a href="/workflows?project=ops">Workflows</a>');
    expect(html).toContain('<a href="/executions?project=ops">Executions</a>');
    expect(html).toContain(
      '<a aria-current="page" href="/members?project=ops" class="active">Members</a>',
    );
    expect(html).toContain('<a href="/audit?project=ops">Audit</a>');
    expect(html).toContain('<a href="/api-keys?project=ops">API keys</a>');
    expect(html).toContain(">Ada</span>");
    expect(html).toContain(
      '<form class="signout" action="/auth/sign-out" method="post"><button type="submit" class="link">Sign out</button></form>',
    );
  });

  it("offers Members and Audit only to the project's admins", () => {
    const html = render(
      testMe({ default: "viewer", ops: "admin" }),
      "/executions",
      "project=default",
    );
    expect(html).toContain('<option value="default" selected="">');
    expect(html).not.toContain(">Members</a>");
    expect(html).not.toContain(">Audit</a>");
    expect(html).toContain(">API keys</a>");
  });

  it("falls back to default when the URL names a project I may not see", () => {
    const html = render(
      testMe({ ops: "editor", default: "editor" }),
      "/workflows",
      "project=secret",
    );
    expect(html).toContain('<option value="default" selected="">');
    expect(html).toContain('href="/workflows?project=default"');
  });
});
