import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { DataDirError, lockDataDir } from "./data-dir.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "drydock-lock-test-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("lockDataDir", () => {
  it("creates the directory 0700 and refuses a second lock while the first is held, naming the directory and the pid", async () => {
    const dir = join(root, "data");
    const lock = await lockDataDir(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "server.pid"))).mode & 0o777).toBe(0o600);
    await expect(lockDataDir(dir)).rejects.toThrow(
      new DataDirError(
        `the data directory ${dir} is in use by the Drydock server with pid ${process.pid}: stop it first, or use another data directory`,
      ),
    );
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
    await (await lockDataDir(dir)).release();
  });

  it("takes over a lock whose server is gone, or whose pid now belongs to another process", async () => {
    const gone = spawnSync("true").pid;
    for (const stale of [`${gone}\n1234\n`, `1\n${"9".repeat(12)}\n`, "", "not a lock"]) {
      await writeFile(join(root, "server.pid"), stale);
      const lock = await lockDataDir(root);
      expect((await readFile(join(root, "server.pid"), "utf8")).split("\n")[0]).toBe(
        String(process.pid),
      );
      await lock.release();
    }
  });

  it("takes over a lock whose server was killed but not yet reaped by its parent (a zombie)", async () => {
    // The child exits once `sleep 30` has taken the shell's place, and `sleep` never reaps it.
    const parent = spawn("sh", ["-c", "sleep 0.3 & echo $!; exec sleep 30"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const zombie = Number(
        await new Promise<string>((resolve) =>
          parent.stdout.once("data", (d: Buffer) => resolve(d.toString())),
        ),
      );
      const stat = await vi.waitFor(async () => {
        const text = await readFile(`/proc/${zombie}/stat`, "utf8");
        if (!text.includes(") Z ")) throw new Error("not a zombie yet");
        return text;
      }, 5_000);
      const started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      await writeFile(join(root, "server.pid"), `${zombie}\n${started}\n`);
      await (await lockDataDir(root)).release();
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("says in one line which directory it cannot use, and why", async () => {
    await expect(lockDataDir("/dev/null/data")).rejects.toThrow(
      "cannot use /dev/null/data as the data directory: a part of the path is not a directory (mkdir /dev/null/data: ENOTDIR)",
    );
  });
});
