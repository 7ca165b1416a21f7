import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startEmbeddedPostgres } from "./db/postgres.js";
import type { RunningPostgres } from "./db/postgres.js";
import { readServerConfig } from "./env.js";
import { createLogger } from "./logger.js";
import { startServer } from "./server.js";

let dir: string;
let external: RunningPostgres | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-server-test-"));
  await chmod(dir, 0o755);
  external = await startEmbeddedPostgres(join(dir, "external"), createLogger("silent"));
});
afterAll(async () => {
  await external?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("startServer", () => {
  it("uses DRYDOCK_DATABASE_URL instead of an embedded PostgreSQL, and keeps its token across restarts", async () => {
    const dataDir = join(dir, "data");
    const url = external?.url ?? "";
    const config = readServerConfig({ DRYDOCK_DATABASE_URL: url, DRYDOCK_DATA_DIR: dataDir, DRYDOCK_PORT: "0", DRYDOCK_LOG_LEVEL: "silent" });
    const first = await startServer(config);
    const api = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${first.url}/trpc`, headers: { authorization: `Bearer ${first.token}` } })] });
    expect((await api.projects.list.query()).map((p) => p.id)).toEqual(["default"]);
    await first.close();
    expect(existsSync(join(dataDir, "pg"))).toBe(false);

    const second = await startServer(config);
    expect(second.token).toBe(first.token);
    expect(second.consoleUrl).toBe(`${second.url}/?token=${second.token}`);
    await second.close();
  });

  it("says which directory the embedded PostgreSQL cannot reach", async () => {
    const closed = join(dir, "closed");
    await mkdir(closed, { mode: 0o700 });
    await chmod(closed, 0o700);
    const config = readServerConfig({ DRYDOCK_DATA_DIR: join(closed, "data"), DRYDOCK_PORT: "0", DRYDOCK_LOG_LEVEL: "silent" });
    await expect(startServer(config)).rejects.toThrow(`cannot enter ${closed} (mode 700)`);
  });

  it("refuses configuration it cannot use, naming the setting", () => {
    expect(() => readServerConfig({ DRYDOCK_PORT: "eighty" })).toThrow(/port/);
    expect(() => readServerConfig({ DRYDOCK_DATABASE_URL: "not a url" })).toThrow(/databaseUrl/);
  });
});
