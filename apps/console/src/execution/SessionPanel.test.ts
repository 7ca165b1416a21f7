import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";

import { T, testSession } from "../__tests__/fixtures.js";
import type { InteractiveSession } from "../ui/types.js";

// api.ts opens a WebSocket client against `location` when imported; the panel only needs the names.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String, appCode: () => undefined }));
const { SessionPanel } = await import("./SessionPanel.js");

const session = testSession;

function render(s: InteractiveSession): string {
  const panel = createElement(SessionPanel, { executionId: "x1", nodeId: "n0", session: s });
  return renderToStaticMarkup(
    createElement(QueryClientProvider, { client: new QueryClient() }, panel),
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
