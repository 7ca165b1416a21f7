import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";

import { T, testMe, withIdentity } from "../__tests__/fixtures.js";
import type { Member } from "../ui/types.js";

// api.ts opens a WebSocket client against `location` when imported; rendering on the server needs none of it.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String }));
const { MembersPage } = await import("./Members.js");

const member = (id: string, name: string, role: Member["role"], email?: string): Member => ({
  user: { id, name, instanceAdmin: false, createdAt: T, ...(email ? { email } : {}) },
  role,
  addedAt: T,
});

describe("MembersPage", () => {
  it("lists members by name with their email, a role picker and Remove, and the add form", () => {
    const client = new QueryClient();
    client.setQueryData(
      ["projects", "members", "ops"],
      [member("u-bob", "Bob", "viewer", "bob@example.com"), member("u-ada", "Ada", "admin")],
    );
    const page = withIdentity(
      testMe({ ops: "admin" }),
      createElement(MembersPage, { project: "ops" }),
    );
    const html = renderToStaticMarkup(createElement(QueryClientProvider, { client }, page));
    expect(html).toContain("<h1>Members of ops</h1>");
    expect(html).toMatch(/aria-label="Add a member"/);
    expect(html).toMatch(/<tbody><tr><td>Ada<span class="note">you<\/span><\/td>/);
    expect(html).toContain('<td class="wide">bob@example.com</td>');
    expect(html).toMatch(
      /<select aria-label="Role of Bob"><option value="viewer" selected="">viewer<\/option><option value="editor">editor<\/option><option value="admin">admin<\/option><\/select>/,
    );
    expect(html).toContain('aria-label="Remove Bob (bob@example.com)">Remove</button>');
  });
});
