import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";

import { describe, expect, it } from "vitest";

import { descendantsOf, groupAlive, terminateTree } from "./process-group.js";

const running = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
};

/** The session id: the fourth field after the command in /proc/<pid>/stat (state, ppid, pgrp, session). */
const sessionOf = async (pid: number) =>
  Number((await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.split(" ")[3]);

describe("process trees", () => {
  it("ends a group leader and its descendants, also one that left for a session of its own (a terminal)", async () => {
    // A leader whose child escapes its group the way an integrated terminal does (setsid), and ignores SIGTERM.
    const leader = spawn(
      "/bin/sh",
      ["-c", "setsid sh -c 'trap \"\" TERM; sleep 600' & sleep 600; wait"],
      { detached: true, stdio: "ignore" },
    );
    const pid = leader.pid as number;
    let tree: number[] = [];
    for (let i = 0; i < 100 && tree.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
      tree = await descendantsOf(pid);
    }
    const escaped = [];
    for (const p of tree) if ((await sessionOf(p)) !== pid) escaped.push(p);
    expect(escaped.length).toBeGreaterThan(0);

    await terminateTree(pid, 300);
    expect(await groupAlive(pid)).toBe(false);
    for (const p of tree) expect(await running(p)).toBe(false);
  });
});
