import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { loadSecrets } from "./secrets.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-secrets-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadSecrets", () => {
  it("generates the user token, the relay token and the signing secret once, then keeps them", async () => {
    const first = await loadSecrets(dir);
    expect(first.relayToken).toMatch(/^[a-f0-9]{48}$/);
    expect(first.relayToken).not.toBe(first.token);
    expect(await loadSecrets(dir)).toEqual(first);
    expect((await stat(join(dir, "secrets.json"))).mode & 0o777).toBe(0o600);
  });

  it("adds a relay token and the database passwords to a data directory from before them, keeping its other secrets", async () => {
    const legacy = { token: "t".repeat(48), signingSecret: "s".repeat(64) };
    await writeFile(join(dir, "secrets.json"), JSON.stringify(legacy), { mode: 0o600 });
    const upgraded = await loadSecrets(dir);
    expect(upgraded).toMatchObject(legacy);
    expect(upgraded.relayToken).toMatch(/^[a-f0-9]{48}$/);
    expect(upgraded.databasePassword).toMatch(/^[a-f0-9]{48}$/);
    expect(upgraded.databaseAdminPassword).toMatch(/^[a-f0-9]{48}$/);
    expect(upgraded.databaseAdminPassword).not.toBe(upgraded.databasePassword);
    expect(JSON.parse(await readFile(join(dir, "secrets.json"), "utf8"))).toEqual(upgraded);
    expect((await stat(join(dir, "secrets.json"))).mode & 0o777).toBe(0o600);
    expect(await loadSecrets(dir)).toEqual(upgraded);
  });
});
