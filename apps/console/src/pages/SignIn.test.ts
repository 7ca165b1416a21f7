import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import { Router } from "wouter";

// api.ts opens a WebSocket client against `location` when imported; rendering on the server needs none of it.
vi.mock("../api.js", () => ({ api: {}, errorMessage: String }));
const { SignInPage, SIGN_IN_METHODS_KEY, oidcStartUrl } = await import("./SignIn.js");

function render(methods: { oidc?: { name: string }; signInCode: boolean }): string {
  const client = new QueryClient();
  client.setQueryData(SIGN_IN_METHODS_KEY, methods);
  const page = createElement(SignInPage);
  return renderToStaticMarkup(
    createElement(
      QueryClientProvider,
      { client },
      createElement(Router, { ssrPath: "/executions/x1", ssrSearch: "node=n0", children: page }),
    ),
  );
}

describe("SignInPage", () => {
  it("offers the OpenID provider, back to the page asked for, and the sign-in code", () => {
    const html = render({ oidc: { name: "Keycloak" }, signInCode: true });
    expect(html).toContain(
      '<a class="button primary signin-oidc" href="/auth/oidc/start?next=%2Fexecutions%2Fx1%3Fnode%3Dn0">Sign in with Keycloak</a>',
    );
    expect(html).toMatch(/<label for="[^"]+">Sign-in code<\/label>/);
    expect(html).toContain("Run <code>drydock console</code> for a sign-in link.");
    expect(html).toContain(">Sign in</button>");
    expect(html).not.toMatch(/token/i);
  });

  it("offers only the code without a provider, and only the provider without codes", () => {
    const codeOnly = render({ signInCode: true });
    expect(codeOnly).not.toContain("Sign in with");
    expect(codeOnly).toContain(">Sign-in code</label>");
    const oidcOnly = render({ oidc: { name: "Dex" }, signInCode: false });
    expect(oidcOnly).toContain(">Sign in with Dex</a>");
    expect(oidcOnly).not.toContain("Sign-in code");
  });

  it("sends the person back to where they were after the provider", () => {
    expect(oidcStartUrl({ pathname: "/audit", search: "?project=ops&all=1" })).toBe(
      "/auth/oidc/start?next=%2Faudit%3Fproject%3Dops%26all%3D1",
    );
  });
});
