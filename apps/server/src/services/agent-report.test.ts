/**
 * A warm agent's report over the API, as the real agent makes it: one `agent.complete` per attempt carries the
 * output, the log's last lines and the ask for the next attempt, whose assignment (inputs included) is the
 * answer. The pipeline range → square (fan-out) → sum runs to SUCCEEDED that way.
 */
import { createHash } from "node:crypto";

import type { AttemptAssignment, ExecutionDetail, JsonValue } from "@drydock/contracts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { bearerHeader, testControlPlane } from "../__tests__/control-plane.js";
import type { TestControlPlane } from "../__tests__/control-plane.js";
import {
  computePipeline,
  pipelineSpec,
  registerWorkflow,
  testTask as task,
} from "../__tests__/pipeline.js";

let t: TestControlPlane;

beforeAll(async () => {
  t = await testControlPlane();
  await t.plane.services.scheduler.start();
});
afterAll(async () => {
  await t?.close();
});

/** A tRPC call over the app's HTTP: its data, or an Error with the reply's message and app code. */
async function call<T>(
  path: string,
  input: unknown,
  token: string,
  kind: "query" | "mutation" = "mutation",
) {
  const { body } = await t.call(path, input, { kind, headers: bearerHeader(token) });
  if (body.error) throw new Error(`${body.error.data.appCode}: ${body.error.message}`);
  return body.result?.data as T;
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

interface Handed {
  ok: true;
  next?: { token: string; assignment: AttemptAssignment } | null;
}

describe("agent.complete, a warm agent's whole report in one call", () => {
  it("carries the output and the last log lines, and answers the next attempt with its inputs: the pipeline runs to SUCCEEDED", async () => {
    await registerWorkflow(
      t.db,
      pipelineSpec({ kind: "node", node: "n2" }),
      [task("range", ["n"]), task("square", ["x", "k"]), task("sum", ["xs"])],
      "v1",
    );
    const ran: { attemptId: string; handed: boolean; inputsInline: boolean }[] = [];
    const reports: { token: string; input: Record<string, unknown> }[] = [];
    // Each launched agent runs its attempt, then whatever the server hands it, until it hands nothing.
    t.executor.behaviour = async ({ token }) => {
      await call("agent.started", { pid: 4242 }, token);
      let assignment = await call<AttemptAssignment>("agent.assignment", undefined, token, "query");
      let current = { token, handed: false };
      for (;;) {
        ran.push({
          attemptId: assignment.attemptId,
          handed: current.handed,
          inputsInline: assignment.inputs !== undefined && assignment.inputsUrl === undefined,
        });
        const output = JSON.stringify(
          computePipeline(assignment.task.name, assignment.inputs as Record<string, JsonValue>),
        );
        const input = {
          outputsSha256: sha(output),
          outputsJson: output,
          lines: [
            {
              stream: "system",
              text: `task ${assignment.task.name} succeeded`,
              at: new Date().toISOString(),
            },
          ],
          next: true,
        };
        reports.push({ token: current.token, input });
        const answer = await call<Handed>("agent.complete", input, current.token);
        if (!answer.next) return;
        current = { token: answer.next.token, handed: true };
        assignment = answer.next.assignment;
      }
    };
    const { id } = await call<{ id: string }>(
      "executions.create",
      { project: "default", workflow: "pipe", version: "v1", inputs: { count: 12 } },
      t.token,
    );

    const detail = await vi.waitFor(
      async () => {
        const d = await call<ExecutionDetail>("executions.get", { id }, t.token, "query");
        expect(d.execution.status).toBe("SUCCEEDED");
        return d;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(detail.execution.result).toBe(650);
    // Every attempt had its inputs in its assignment; the elements over the server's 8 agents at once were
    // handed over to agents already running.
    expect(ran).toHaveLength(14);
    expect(ran.every((r) => r.inputsInline)).toBe(true);
    expect(ran.filter((r) => r.handed).length).toBeGreaterThan(0);
    // The line came with the report, before the end: the attempt's log has it.
    const square = detail.nodes.find((n) => n.nodeId === "n1[0]")?.attempts[0]?.id ?? "";
    const log = await call<{ text: string }>(
      "executions.logs",
      { attemptId: square },
      t.token,
      "query",
    );
    expect(log.text).toContain("task square succeeded");
    // The same report again (its answer lost) is answered, and records nothing more; other outputs are refused.
    const first = reports[0] as (typeof reports)[number];
    await expect(call<Handed>("agent.complete", first.input, first.token)).resolves.toEqual({
      ok: true,
      next: null,
    });
    await expect(
      call(
        "agent.complete",
        { ...first.input, outputsJson: "0", outputsSha256: sha("0") },
        first.token,
      ),
    ).rejects.toThrow(/^AGENT_TOKEN_ENDED/);
    expect(
      (await call<ExecutionDetail>("executions.get", { id }, t.token, "query")).execution.result,
    ).toBe(650);
  });
});
