import { describe, expect, it } from "vitest";

import { readServerConfig } from "./env.js";

describe("readServerConfig", () => {
  it("hands agents where the IDE runtime is and how to reach the registry, and none of the server's secrets", () => {
    const config = readServerConfig({
      PATH: "/usr/bin",
      HOME: "/home/ada",
      XDG_CACHE_HOME: "/cache",
      DRYDOCK_IDE_DIR: "/opt/ide",
      HTTPS_PROXY: "http://proxy:3128",
      DRYDOCK_TOKEN: "admin-secret-0123456789",
      DRYDOCK_RELAY_TOKEN: "relay-secret-0123456789",
      DRYDOCK_DATABASE_URL: "postgres://u:p@db/drydock",
      npm_config_registry: "http://mirror/",
    });
    expect(config.agentEnv).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/ada",
      XDG_CACHE_HOME: "/cache",
      DRYDOCK_IDE_DIR: "/opt/ide",
      HTTPS_PROXY: "http://proxy:3128",
    });
  });

  it("reads the OpenID provider as a whole, with the button's name and the admins' emails, or refuses a partial one", () => {
    expect(readServerConfig({}).oidc).toBeUndefined();
    expect(
      readServerConfig({
        DRYDOCK_OIDC_ISSUER: "https://idp.example/realms/team",
        DRYDOCK_OIDC_CLIENT_ID: "drydock",
        DRYDOCK_OIDC_CLIENT_SECRET: "s3cret",
        DRYDOCK_ADMIN_EMAILS: " Ada@Example.com, bob@example.com ,",
      }).oidc,
    ).toEqual({
      issuer: "https://idp.example/realms/team",
      clientId: "drydock",
      clientSecret: "s3cret",
      name: "OpenID",
      adminEmails: ["ada@example.com", "bob@example.com"],
    });
    expect(
      readServerConfig({
        DRYDOCK_OIDC_ISSUER: "https://idp.example",
        DRYDOCK_OIDC_CLIENT_ID: "drydock",
        DRYDOCK_OIDC_CLIENT_SECRET: "s",
        DRYDOCK_OIDC_NAME: "Keycloak",
      }).oidc?.name,
    ).toBe("Keycloak");
    expect(() => readServerConfig({ DRYDOCK_OIDC_ISSUER: "https://idp.example" })).toThrow(
      /clientId/,
    );
  });
});
