import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { ExecutionDetail } from "@drydock/contracts";
import { afterAll, describe, expect, it } from "vitest";

import { randomInt } from "node:crypto";

import { drydock, fixture, processTable, removeStack, startStack, waitFor } from "./harness.js";
import type { Stack } from "./harness.js";

const stacks: Stack[] = [];
let markers = "";
afterAll(async () => {
  // The restarted stack shares the killed one's data directory: stop every stack before removing any.
  for (const s of stacks) await s.stop();
  for (const s of stacks) await removeStack(s);
  if (markers) await rm(markers, { recursive: true, force: true });
});

/** How long the restarted server may take to finish the execution; the test's limit adds its two stack starts. */
const FINISH_MS = 120_000;

describe("a server killed with SIGKILL mid-pipeline", () => {
  it(
    "completes the execution after it restarts, running and writing each node once",
    {
      // Two stack starts (up to 60 s each under CI's load), three squares, then the finish: every wait names itself first.
      timeout: 2 * 60_000 + 60_000 + FINISH_MS + 30_000,
    },
    async () => {
      markers = await mkdtemp(join(tmpdir(), "drydock-restart-"));
      // The tasks run as their attempts' own users (a server run as root isolates them): they write here.
      await chmod(markers, 0o777);
      // Two agents for six squares: each agent is handed further squares (a warm agent) before the kill.
      const env = { DRYDOCK_MAX_PARALLEL: "2" };
      const first = await startStack({ env });
      stacks.push(first);
      const port = Number(new URL(first.url).port);
      const r = await drydock(
        ["run", "--remote", fixture("restart.ts"), "restart", "--dir", markers, "--count", "6"],
        first.env,
      );
      expect(r.code).toBe(0);
      const id = r.stdout.match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";

      // Kill it mid-fan-out, once agents run squares handed over to them: three done, the rest queued or running.
      await waitFor("three squares to succeed", async () => {
        const d = await first.api.executions.get.query({ id });
        return d.nodes.filter((n) => n.parentNodeId && n.status === "SUCCEEDED").length >= 3
          ? true
          : undefined;
      });
      await first.kill();

      const second = await startStack({ dataDir: first.dataDir, home: first.home, port, env });
      stacks.push(second);
      // Should it not finish, say where it stood and what the restarted server said.
      let last: ExecutionDetail | undefined;
      const done = await waitFor(
        "the execution to finish",
        async () => {
          last = await second.api.executions.get.query({ id });
          return last.execution.status === "RUNNING" ? undefined : last;
        },
        FINISH_MS,
      ).catch((error: unknown) => {
        const nodes = (last?.nodes ?? []).map(
          (n) => `${n.nodeId} ${n.status} [${n.attempts.map((a) => a.status).join(", ")}]`,
        );
        throw new Error(
          `${String(error)}\nnodes: ${nodes.join("; ")}\nthe restarted server said:\n${second.output()}`,
        );
      });
      const why = JSON.stringify(
        {
          error: done.execution.error,
          attempts: done.nodes.flatMap((n) => n.attempts.filter((a) => a.error)),
        },
        null,
        2,
      );
      expect(done.execution.status, why).toBe("SUCCEEDED");
      expect(done.execution.result).toBe(1 + 4 + 9 + 16 + 25 + 36);

      const runFiles = (await readdir(markers)).filter((f) => f.endsWith(".run"));
      const runs = (
        await Promise.all(runFiles.map((f) => readFile(join(markers, f), "utf8")))
      ).sort();
      expect(runs).toEqual([
        "numbers",
        "square 1",
        "square 2",
        "square 3",
        "square 4",
        "square 5",
        "square 6",
        "sum",
      ]);
      // n1 is the fan-out itself: its elements n1[0..5] ran, it has no attempt of its own.
      for (const node of done.nodes)
        expect(
          node.attempts.map((a) => a.status),
          node.nodeId,
        ).toEqual(node.nodeId === "n1" ? [] : ["SUCCEEDED"]);
      // Each node's output recorded once, as its one attempt reported it.
      expect(done.nodes.filter((n) => n.parentNodeId === "n1").map((n) => n.outputs)).toEqual([
        1, 4, 9, 16, 25, 36,
      ]);
      expect((await processTable()).filter((p) => p.cmdline.includes(id))).toEqual([]);
    },
  );
});

describe("drydock up on SIGTERM", () => {
  it("stops everything it started: PostgreSQL, agents and their tasks", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const seconds = `${800 + randomInt(1_000)}.${randomInt(1_000_000)}`;
    const r = await drydock(
      ["run", "--remote", fixture("slow.ts"), "slow", "--seconds", seconds],
      stack.env,
    );
    expect(r.code).toBe(0);
    await waitFor("the task to run", async () =>
      (await processTable()).some((p) => p.cmdline === `sleep ${seconds}`) ? true : undefined,
    );
    const ours = async () =>
      (await processTable()).filter(
        (p) =>
          p.cmdline.includes(stack.dataDir) ||
          p.cmdline.includes(seconds) ||
          p.pid === stack.process.pid,
      );
    expect((await ours()).some((p) => p.cmdline.includes("postgres"))).toBe(true);

    await stack.stop();
    expect(stack.process.exitCode).toBe(0);
    expect(await ours()).toEqual([]);
    expect(existsSync(join(stack.dataDir, "pg", "postmaster.pid"))).toBe(false);
  });
});
