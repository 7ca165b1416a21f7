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

  it("runs attempts on a swarm with the Docker settings and an overlay network, and names a missing network", () => {
    const config = readServerConfig({
      DRYDOCK_EXECUTOR: "swarm",
      DRYDOCK_SWARM_NETWORK: "drydock_agents",
      DRYDOCK_SWARM_UNPLACED_SECONDS: "10",
      DRYDOCK_SWARM_CONSTRAINTS: "node.role==worker, node.labels.zone != b",
      DRYDOCK_DOCKER_SOCKET: "/run/manager.sock",
      DRYDOCK_TASK_IMAGE: "127.0.0.1:5000/drydock/agent:latest",
    });
    expect(config.executor).toBe("swarm");
    expect(config.swarm).toEqual({
      network: "drydock_agents",
      unplacedSeconds: 10,
      constraints: ["node.role==worker", "node.labels.zone != b"],
    });
    expect(config.docker).toMatchObject({
      socket: "/run/manager.sock",
      taskImage: "127.0.0.1:5000/drydock/agent:latest",
    });
    expect(
      readServerConfig({ DRYDOCK_EXECUTOR: "swarm", DRYDOCK_SWARM_NETWORK: "n" }).swarm,
    ).toEqual({ network: "n", unplacedSeconds: 20, constraints: [] });
    expect(() =>
      readServerConfig({
        DRYDOCK_EXECUTOR: "swarm",
        DRYDOCK_SWARM_NETWORK: "n",
        DRYDOCK_SWARM_CONSTRAINTS: "worker",
      }),
    ).toThrow("each of DRYDOCK_SWARM_CONSTRAINTS must read like node.role==worker");
    expect(() => readServerConfig({ DRYDOCK_EXECUTOR: "swarm" })).toThrow(
      "DRYDOCK_EXECUTOR=swarm needs DRYDOCK_SWARM_NETWORK",
    );
    // Waiting for a node longer than the start timeout would end as "lost" instead.
    expect(() =>
      readServerConfig({
        DRYDOCK_EXECUTOR: "swarm",
        DRYDOCK_SWARM_NETWORK: "n",
        DRYDOCK_SWARM_UNPLACED_SECONDS: "60",
        DRYDOCK_START_TIMEOUT_SECONDS: "60",
      }),
    ).toThrow("DRYDOCK_SWARM_UNPLACED_SECONDS (60) must be below the start timeout (60s)");
    expect(readServerConfig({ DRYDOCK_EXECUTOR: "docker" }).executor).toBe("docker");
  });

  it("reads what replicas share (a directory, a signing secret), the registry and the heartbeat timeout, and names a bad registry", () => {
    const config = readServerConfig({
      DRYDOCK_SHARED_DIR: "/var/lib/drydock-shared",
      DRYDOCK_SIGNING_SECRET: "s".repeat(32),
      DRYDOCK_REGISTRY: "10.77.0.11:5000",
      DRYDOCK_HEARTBEAT_TIMEOUT_SECONDS: "12",
      DRYDOCK_START_TIMEOUT_SECONDS: "90",
    });
    expect(config).toMatchObject({
      sharedDir: "/var/lib/drydock-shared",
      signingSecret: "s".repeat(32),
      registry: "10.77.0.11:5000",
      heartbeatTimeoutSeconds: 12,
      startTimeoutSeconds: 90,
    });
    expect(() => readServerConfig({ DRYDOCK_REGISTRY: "http://10.77.0.11:5000/v2" })).toThrow(
      "DRYDOCK_REGISTRY must be host[:port], e.g. 10.77.0.11:5000 (no scheme, no path)",
    );
    expect(() => readServerConfig({ DRYDOCK_SIGNING_SECRET: "short" })).toThrow(/signingSecret/);
  });
});
