import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { TestControlPlane } from "./test/control-plane.js";
import type { DevicePollStatus } from "./test/control-plane.js";
import { runCli } from "./test/run-cli.js";

let scratch: string;
const planes: TestControlPlane[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "drydock-cli-sign-in-"));
});
afterAll(async () => {
  await Promise.all(planes.map((p) => p.close()));
  await rm(scratch, { recursive: true, force: true });
});

/** A control plane with Ada (instance admin, with an API key) and Bob; `deviceAnswers` enables the device flow. */
async function startPlane(deviceAnswers?: DevicePollStatus[]) {
  const plane = new TestControlPlane();
  planes.push(plane);
  const adaKey = plane.state.addUser("ada", "Ada Lovelace");
  plane.state.addUser("bob", "Bob");
  plane.state.deviceAnswers = deviceAnswers;
  const url = await plane.listen();
  return { plane, url, adaKey };
}

let homes = 0;
/** A DRYDOCK_HOME that does not exist yet, inside the scratch directory. */
const newHome = () => join(scratch, `home-${++homes}`, ".drydock");

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
const savedIn = async (home: string) =>
  JSON.parse(await readFile(join(home, "context.json"), "utf8")) as Record<string, unknown>;

describe("drydock login --api-key", { timeout: 60_000 }, () => {
  it("checks the key with the server and saves it readable by the user only (file 0600, directory 0700)", async () => {
    const { url, adaKey } = await startPlane();
    const home = newHome();
    const login = await runCli(["login", "--endpoint", `${url}/`, "--api-key", adaKey], { home });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain(`signed in to ${url} as Ada Lovelace (ada) with an API key`);
    expect(await modeOf(join(home, "context.json"))).toBe(0o600);
    expect(await modeOf(home)).toBe(0o700);
    expect(await savedIn(home)).toEqual({ endpoint: url, token: adaKey, source: "apiKey" });
    // Written through a temporary file renamed into place: nothing else is left behind.
    expect(await readdir(home)).toEqual(["context.json"]);

    const whoami = await runCli(["whoami"], { home });
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout).toContain("Ada Lovelace (ada, ada@example.test), instance admin");
    expect(whoami.stdout).toMatch(/team-a\s+Team A\s+editor/);
    const json = await runCli(["whoami", "-o", "json"], { home });
    expect(JSON.parse(json.stdout)).toMatchObject({
      user: { id: "ada" },
      via: "apiKey",
      ceiling: "admin",
    });
  });

  it("narrows a credential file and directory that were readable by others before", async () => {
    const { url, adaKey } = await startPlane();
    const home = newHome();
    await mkdir(home, { recursive: true, mode: 0o755 });
    await chmod(home, 0o755);
    await writeFile(join(home, "context.json"), "{}", { mode: 0o644 });
    const login = await runCli(["login", "--endpoint", url, "--api-key", "-"], {
      home,
      stdin: `${adaKey}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
    expect(await modeOf(join(home, "context.json"))).toBe(0o600);
    expect(await modeOf(home)).toBe(0o700);
    expect((await savedIn(home)).token).toBe(adaKey);
  });

  it("saves nothing when the server refuses the key, and says so (exit 1)", async () => {
    const { url } = await startPlane();
    const home = newHome();
    const login = await runCli(["login", "--endpoint", url, "--api-key", "ddk_wrong"], { home });
    expect(login).toMatchObject({ code: 1, stdout: "" });
    expect(login.stderr).toBe(
      `error: ${url} refused the API key (sign in first (the console, or \`drydock login\`)): nothing was saved\n`,
    );
    await expect(stat(join(home, "context.json"))).rejects.toThrow(/ENOENT/);
  });

  it("needs a server, and refuses an empty key, before calling anything", async () => {
    const home = newHome();
    const [noServer, empty] = await Promise.all([
      runCli(["login", "--api-key", "k"], { home }),
      runCli(["login", "--endpoint", "http://127.0.0.1:1", "--api-key", " "], { home }),
    ]);
    expect(noServer).toMatchObject({ code: 2 });
    expect(noServer.stderr).toBe(
      "error: drydock login needs the server to sign in to: --endpoint <url>\n",
    );
    expect(empty).toMatchObject({ code: 2, stderr: "error: --api-key is empty\n" });
  });

  it("logout forgets the key without revoking it (it was given, not made, by login)", async () => {
    const { plane, url, adaKey } = await startPlane();
    const home = newHome();
    expect((await runCli(["login", "--endpoint", url, "--api-key", adaKey], { home })).code).toBe(
      0,
    );
    const logout = await runCli(["logout"], { home });
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stdout).toContain(`forgot the credential for ${url}`);
    await expect(stat(join(home, "context.json"))).rejects.toThrow(/ENOENT/);
    expect(plane.state.keys.find((k) => k.secret === adaKey)?.key.revokedAt).toBeUndefined();
    const after = await runCli(["whoami"], { home });
    expect(after.code).toBe(2);
    expect(after.stderr).toContain("no Drydock server to talk to");
  });
});

describe("drydock login through the device flow", { timeout: 60_000 }, () => {
  it("prints where to approve, polls until approved, saves the key it got, and logout revokes that key", async () => {
    const { plane, url } = await startPlane(["pending", "pending", "approved"]);
    const home = newHome();
    const login = await runCli(["login", "--endpoint", url], { home });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain(`To sign in, open ${url}/device?user_code=WDJB-MJHT\n`);
    expect(login.stdout).toContain("and check that it shows the code WDJB-MJHT.\n");
    expect(login.stdout).toContain(`signed in to ${url} as Ada Lovelace (ada)`);
    expect(plane.state.devicePolls).toHaveLength(3);
    const made = plane.state.keys.find((k) => k.key.name === "drydock login");
    expect(await savedIn(home)).toEqual({
      endpoint: url,
      token: made?.secret,
      source: "device",
    });
    expect(await modeOf(join(home, "context.json"))).toBe(0o600);

    const logout = await runCli(["logout"], { home });
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stdout).toContain(`revoked its API key ${made?.key.id} (drydock login)`);
    expect(made?.key.revokedAt).toEqual(expect.any(String));
    await expect(stat(join(home, "context.json"))).rejects.toThrow(/ENOENT/);
  });

  it("polls less often after slow_down, as the device flow requires", async () => {
    const { plane, url } = await startPlane(["slow_down", "approved"]);
    const home = newHome();
    const login = await runCli(["login", "--endpoint", url], { home });
    expect(login.code, login.stderr).toBe(0);
    const [first, second] = plane.state.devicePolls;
    // The interval was 1 s; after slow_down it is 6 s: the second poll cannot come sooner.
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(5_900);
    expect((await savedIn(home)).source).toBe("device");
  });

  it.each([
    [
      "denied",
      "error: the sign-in was denied in the browser (code WDJB-MJHT): nothing was saved\n",
    ],
    [
      "expired",
      "error: the sign-in code WDJB-MJHT expired before it was approved: nothing was saved; run `drydock login` again\n",
    ],
  ] as const)("stops when the sign-in is %s, saving nothing (exit 1)", async (status, message) => {
    const { url } = await startPlane(["pending", status]);
    const home = newHome();
    const login = await runCli(["login", "--endpoint", url], { home });
    expect(login.code).toBe(1);
    expect(login.stderr).toBe(message);
    await expect(stat(join(home, "context.json"))).rejects.toThrow(/ENOENT/);
  });

  it("says to use an API key when the server has no OpenID provider", async () => {
    const { url } = await startPlane();
    const login = await runCli(["login", "--endpoint", url], { home: newHome() });
    expect(login.code).toBe(1);
    expect(login.stderr).toBe(
      `error: ${url} has no OpenID provider to sign in through: sign in with an API key instead, \`drydock login --endpoint ${url} --api-key <key>\` (make one in the console's API keys page)\n`,
    );
  });
});
