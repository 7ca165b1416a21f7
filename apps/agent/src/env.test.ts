import { homedir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { loadConfig } from "./env.js";

describe("loadConfig", () => {
  it("applies the defaults and treats empty variables as unset", () => {
    const config = loadConfig({
      DRYDOCK_ENDPOINT: "http://127.0.0.1:8484/",
      DRYDOCK_AGENT_TOKEN: "t",
      DRYDOCK_CACHE_DIR: "/var/cache/drydock",
      DRYDOCK_LOG_LEVEL: "",
    });
    expect(config).toEqual({
      endpoint: "http://127.0.0.1:8484",
      token: "t",
      cacheDir: "/var/cache/drydock",
      ideDir: join(homedir(), ".cache", "drydock", "ide"),
      logLevel: "info",
      heartbeatMs: 2_000,
      reconnectSeconds: 600,
      defaultExtensions: [expect.stringMatching(/\/apps\/vscode-extension\/dist\/drydock\.vsix$/)],
      childEnv: {
        DRYDOCK_ENDPOINT: "http://127.0.0.1:8484/",
        DRYDOCK_CACHE_DIR: "/var/cache/drydock",
        DRYDOCK_LOG_LEVEL: "",
      },
    });
  });

  it("keeps the IDE runtime in the user's cache (XDG), unless DRYDOCK_IDE_DIR names another place", () => {
    const base = { DRYDOCK_ENDPOINT: "http://127.0.0.1:8484", DRYDOCK_AGENT_TOKEN: "t" };
    expect(loadConfig({ ...base, HOME: "/home/ada" }).ideDir).toBe("/home/ada/.cache/drydock/ide");
    expect(loadConfig({ ...base, HOME: "/home/ada", XDG_CACHE_HOME: "/xdg" }).ideDir).toBe(
      "/xdg/drydock/ide",
    );
    expect(
      loadConfig({
        ...base,
        HOME: "/home/ada",
        XDG_CACHE_HOME: "",
        DRYDOCK_IDE_DIR: "/opt/drydock/ide",
      }).ideDir,
    ).toBe("/opt/drydock/ide");
  });

  it("installs the Drydock extension into every session unless DRYDOCK_DEFAULT_EXTENSIONS says otherwise", () => {
    const base = { DRYDOCK_ENDPOINT: "http://127.0.0.1:8484", DRYDOCK_AGENT_TOKEN: "t" };
    expect(loadConfig({ ...base, DRYDOCK_DEFAULT_EXTENSIONS: "none" }).defaultExtensions).toEqual(
      [],
    );
    expect(
      loadConfig({ ...base, DRYDOCK_DEFAULT_EXTENSIONS: " /x/a.vsix, https://h/b.vsix " })
        .defaultExtensions,
    ).toEqual(["/x/a.vsix", "https://h/b.vsix"]);
  });

  it("keeps the attempt token out of the environment of what the agent starts for the user", () => {
    const config = loadConfig({
      DRYDOCK_ENDPOINT: "http://127.0.0.1:8484",
      DRYDOCK_AGENT_TOKEN: "secret",
      PATH: "/usr/bin",
    });
    expect(config.childEnv).toEqual({
      DRYDOCK_ENDPOINT: "http://127.0.0.1:8484",
      PATH: "/usr/bin",
    });
  });

  it("names every bad variable", () => {
    expect(() => loadConfig({ DRYDOCK_ENDPOINT: "ftp://x", DRYDOCK_HEARTBEAT_MS: "soon" })).toThrow(
      /DRYDOCK_ENDPOINT: must be an http\(s\) URL.*DRYDOCK_AGENT_TOKEN.*DRYDOCK_HEARTBEAT_MS/,
    );
  });
});
