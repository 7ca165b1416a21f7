import { randomInt } from "node:crypto";

import type { ExecutionDetail } from "@drydock/contracts";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  drydock,
  example,
  fixture,
  processTable,
  removeStack,
  startStack,
  waitFor,
} from "./harness.js";
import type { Stack } from "./harness.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await removeStack(stack);
});

const executionId = (stderr: string) => stderr.match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";

async function detail(id: string): Promise<ExecutionDetail> {
  const r = await drydock(["executions", "get", id, "--output", "json"], stack.env);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ExecutionDetail;
}

describe("drydock run --remote against drydock up", () => {
  it("runs hello (an interactive task) on the server: its IDE opens, and resuming prints its result", async () => {
    const waiting = drydock(
      ["run", "--remote", example("hello/workflow.ts"), "wf", "--wait", "--output", "json"],
      stack.env,
    );
    const running = await waitFor(
      "hello's IDE to be ready",
      async () => {
        const [latest] = await stack.api.executions.list.query({
          project: "default",
          workflow: "wf",
          status: "RUNNING",
          limit: 1,
        });
        if (!latest) return undefined;
        const session = (await detail(latest.id)).nodes[0]?.attempts.at(-1)?.session;
        return session?.state === "READY" ? latest.id : undefined;
      },
      90_000,
    );
    const resumed = await drydock(["resume", running, "n0", "--yes"], stack.env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const r = await waiting;
    expect(r.stderr).toContain("say_hello RUNNING");
    expect(r.stderr).toContain("IDE ready: http://");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('"Hello, world!"\n');
    const id = executionId(r.stderr);
    const d = await detail(id);
    expect(d.execution.status).toBe("SUCCEEDED");
    expect(d.execution.result).toBe("Hello, world!");
    expect(d.nodes.map((n) => [n.nodeId, n.task, n.status])).toEqual([
      ["n0", "say_hello", "SUCCEEDED"],
    ]);

    const text = await drydock(["executions", "get", id], stack.env);
    expect(text.stdout).toMatch(/n0\s+say_hello\s+SUCCEEDED\s+1/);
    const list = await drydock(["executions", "list", "--output", "json"], stack.env);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((e) => e.id)).toContain(id);
  });

  it("registers unchanged code once and reuses the bundle", async () => {
    const first = await drydock(["register", example("hello/workflow.ts")], stack.env);
    expect(first.code).toBe(0);
    const again = await drydock(["register", example("hello/workflow.ts")], stack.env);
    expect(again.stderr).toContain("the server already has this bundle");
    expect(again.stderr).toMatch(/registered workflow wf version [0-9a-f]{16} \(unchanged\)/);
  });

  it("runs the pipeline, fan-out included, to the right result", async () => {
    const r = await drydock(
      [
        "run",
        "--remote",
        example("pipeline/workflow.ts"),
        "pipeline",
        "--count",
        "5",
        "--wait",
        "--output",
        "json",
      ],
      stack.env,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBe("sum of squares of 1..5 is 55");
    const d = await detail(executionId(r.stderr));
    expect(d.nodes.filter((n) => n.parentNodeId !== undefined)).toHaveLength(5);
    expect(d.nodes.every((n) => n.status === "SUCCEEDED")).toBe(true);
  });

  it("fails a throwing task with its message and stack, after retries: 2 gives three attempts", async () => {
    const r = await drydock(
      ["run", "--remote", example("failing/workflow.ts"), "failing", "--wait"],
      stack.env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the flaky task failed on purpose");
    expect(r.stderr).toMatch(/\n\s+at /);
    const d = await detail(executionId(r.stderr));
    expect(d.execution.status).toBe("FAILED");
    const node = d.nodes[0];
    expect(node?.status).toBe("FAILED");
    expect(node?.attempts.map((a) => a.status)).toEqual(["FAILED", "FAILED", "FAILED"]);
    expect(node?.error?.message).toBe("the flaky task failed on purpose");
    expect(node?.error?.stack).toContain("workflow.ts");

    // Each attempt's output, stack included, as the agent forwarded it (the last lines may trail the failure).
    const logs = await waitFor("the third attempt's log", async () => {
      const l = await drydock(["logs", d.execution.id, "n0"], stack.env);
      return l.stdout.split("Error: the flaky task failed on purpose").length === 4 ? l : undefined;
    });
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("==> n0 flaky attempt 1 (FAILED) <==");
    expect(logs.stdout).toContain("==> n0 flaky attempt 3 (FAILED) <==");
    expect(logs.stdout).toMatch(/bundles\/[0-9a-f]{64}\/workflow\.ts:\d+:\d+/);
    const unknown = await drydock(["logs", d.execution.id, "n9"], stack.env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('has no node "n9" (it has: n0)');
  });

  it("aborts an execution and leaves no agent or task process behind", async () => {
    const seconds = `${600 + randomInt(1_000)}.${randomInt(1_000_000)}`;
    const r = await drydock(
      ["run", "--remote", fixture("slow.ts"), "slow", "--seconds", seconds],
      stack.env,
    );
    expect(r.code).toBe(0);
    const id = executionId(r.stdout);
    const sleeping = () =>
      processTable().then((t) =>
        t.filter((p) => p.cmdline.includes(id) || p.cmdline.includes(seconds)),
      );
    await waitFor("the task's sleep to start", async () =>
      (await sleeping()).some((p) => p.cmdline === `sleep ${seconds}`) ? true : undefined,
    );
    expect((await sleeping()).some((p) => p.cmdline.includes(`--attempt ${id}`))).toBe(true);

    const abort = await drydock(["abort", id], stack.env);
    expect(abort.code).toBe(0);
    expect(abort.stdout).toContain("ABORTED");
    expect(await sleeping()).toEqual([]);
    const d = await detail(id);
    expect(d.execution.status).toBe("ABORTED");
    expect(d.nodes[0]?.status).toBe("ABORTED");

    const again = await drydock(["abort", id], stack.env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("already ended ABORTED");
  });
});

describe("timeoutSeconds", () => {
  it("ends an attempt that runs too long, with its process tree, and fails the execution saying why", async () => {
    const seconds = `${700 + randomInt(1_000)}.${randomInt(1_000_000)}`;
    const r = await drydock(
      ["run", "--remote", fixture("timeout.ts"), "late", "--seconds", seconds, "--wait"],
      stack.env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the task timed out after 1s");
    const d = await detail(executionId(r.stderr));
    expect(d.nodes[0]?.attempts.map((a) => a.status)).toEqual(["TIMED_OUT"]);
    await waitFor("the timed-out task's processes to be gone", async () =>
      (await processTable()).some((p) => p.cmdline.includes(seconds)) ? undefined : true,
    );
  });
});

describe("bad requests get clear errors, not 500s", () => {
  async function rejection(
    promise: Promise<unknown>,
  ): Promise<{ message: string; code?: string; status?: number }> {
    try {
      await promise;
    } catch (error) {
      if (!(error instanceof TRPCClientError)) throw error;
      const data = error.data as { code?: string; httpStatus?: number } | undefined;
      return { message: error.message, code: data?.code, status: data?.httpStatus };
    }
    throw new Error("expected the call to fail");
  }

  it("unknown execution and workflow ids are 404s that name the id", async () => {
    const e = await rejection(stack.api.executions.get.query({ id: "xnope" }));
    expect(e).toMatchObject({ status: 404, code: "NOT_FOUND" });
    expect(e.message).toContain('"xnope"');
    const w = await rejection(
      stack.api.executions.create.mutate({ project: "default", workflow: "ghost", inputs: {} }),
    );
    expect(w).toMatchObject({ status: 404 });
    expect(w.message).toContain('"ghost"');
    const cli = await drydock(["executions", "get", "xnope"], stack.env);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('execution "xnope" does not exist');
  });

  it("invalid inputs are 400s that name the input", async () => {
    const r = await drydock(["register", example("hello/workflow.ts")], stack.env);
    expect(r.code).toBe(0);
    const unknown = await rejection(
      stack.api.executions.create.mutate({
        project: "default",
        workflow: "wf",
        inputs: { nmae: "Ada" },
      }),
    );
    expect(unknown).toMatchObject({ status: 400 });
    expect(unknown.message).toContain('unknown input "nmae"');
    const typed = await rejection(
      stack.api.executions.create.mutate({
        project: "default",
        workflow: "wf",
        inputs: { name: 42 },
      }),
    );
    expect(typed).toMatchObject({ status: 400 });
    expect(typed.message).toContain('input "name"');
  });

  it("invalid specs are 400s that say what is wrong", async () => {
    const sha = "0".repeat(64);
    const missingBundle = await rejection(
      stack.api.workflows.register.mutate({
        project: "default",
        bundle: sha,
        entry: "wf.ts",
        tasks: [{ name: "t", inputs: {}, required: [], output: {}, retries: 0 }],
        workflows: [
          {
            name: "w",
            inputs: {},
            required: [],
            nodes: [{ kind: "task", id: "n0", task: "t", inputs: {} }],
            output: { kind: "node", node: "n0" },
          },
        ],
      }),
    );
    expect(missingBundle).toMatchObject({ status: 412 });
    const malformed = await rejection(
      stack.api.workflows.register.mutate({
        project: "default",
        bundle: "not-a-sha",
        entry: "",
        tasks: [],
        workflows: [],
      }),
    );
    expect(malformed).toMatchObject({ status: 400, code: "BAD_REQUEST" });
    expect(malformed.message).toContain("bundle");
  });

  it("rejects calls without the token", async () => {
    const response = await fetch(
      `${stack.url}/trpc/executions.list?input=${encodeURIComponent(JSON.stringify({ project: "default" }))}`,
    );
    expect(response.status).toBe(401);
  });
});
