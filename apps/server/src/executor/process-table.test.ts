import { spawn } from "node:child_process";

import { describe, expect, it } from "vitest";

import { processTable } from "./process-table.js";

describe("processTable", () => {
  it("reads every process's uids, and callers during a read share the next one, which sees what started after they asked", async () => {
    const first = processTable();
    // Started after `first` began: only a read that starts after the next calls can see it.
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const second = processTable();
      const third = processTable();
      expect(third).toBe(second);
      expect(second).not.toBe(first);
      const uid = process.getuid?.() ?? 0;
      expect((await first).get(process.pid)).toEqual({ uids: [uid, uid, uid, uid], zombie: false });
      const later = await second;
      expect(later.get(child.pid ?? -1)).toEqual({ uids: [uid, uid, uid, uid], zombie: false });
      // Nothing is running now: the next call reads afresh.
      expect(processTable()).not.toBe(second);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
