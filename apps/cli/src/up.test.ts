import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CLI_PACKAGE, runCli } from "./test/run-cli.js";

let home: string;
let dataDir: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "drydock-cli-up-home-"));
  // Its own temp directory: the embedded PostgreSQL's user must be able to enter every parent.
  dataDir = await mkdtemp(join(tmpdir(), "drydock-cli-up-data-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

/** Resolves once `out()` matches `pattern`; rejects, with the output, if the process exits first. */
function waitForOutput(
  child: ChildProcess,
  out: () => string,
  pattern: RegExp,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(out());
      if (!match) return;
      child.stdout?.off("data", check);
      child.off("exit", exited);
      resolve(match);
    };
    const exited = (code: number | null) =>
      reject(new Error(`drydock up exited with ${code}:\n${out()}`));
    child.stdout?.on("data", check);
    child.once("exit", exited);
    check();
  });
}

describe("drydock up", { timeout: 180_000 }, () => {
  it("prints a one-time sign-in link for the console: the saved token is in no URL it prints", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", DRYDOCK_HOME: home };
    for (const name of ["DRYDOCK_ENDPOINT", "DRYDOCK_TOKEN", "DRYDOCK_PROJECT"]) delete env[name];
    env.DRYDOCK_LOG_LEVEL = "warn";
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "up", "--port", "0", "--data-dir", dataDir],
      { cwd: CLI_PACKAGE, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      await waitForOutput(child, () => out, /api:\s+http:\/\/\S+\/trpc/);
      const saved = JSON.parse(await readFile(join(home, "context.json"), "utf8")) as {
        endpoint: string;
        token: string;
        source: string;
      };
      expect(saved.source).toBe("up");
      expect((await stat(join(home, "context.json"))).mode & 0o777).toBe(0o600);

      const line =
        /^ {2}console: (\S+) {2}\(one-time sign-in link; `drydock console` prints another\)$/m.exec(
          out,
        );
      expect(line, out).not.toBeNull();
      const link = new URL(line?.[1] ?? "");
      expect(link.origin).toBe(new URL(saved.endpoint).origin);
      expect(saved.token.length).toBeGreaterThan(10);
      expect(out).not.toContain(saved.token);
      for (const url of out.match(/https?:\/\/\S+/g) ?? []) expect(url).not.toMatch(/token=/);

      // It says how attempts are kept apart, and says plainly when they are not.
      expect(out).toMatch(
        /^ {2}isolation: (each attempt runs as its own user|NONE: the server is not root, .*single-user only)$/m,
      );

      // `drydock console` asks for another, different link, with the saved credential.
      const again = await runCli(["console"], { home });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim()).not.toBe(link.toString());
      expect(again.stdout).not.toContain(saved.token);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});
