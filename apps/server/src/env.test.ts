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
});
