/**
 * What the API stores and who may call it, probed against a real `drydock up` (local executor): values with
 * U+0000 round-trip exactly; an agent token stops working when its attempt ends; execution lists carry
 * summaries and inputs have depth and size limits (400 naming the limit); a log that cannot be written says so.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { ExecutionDetail } from "@drydock/contracts";
import type { AppRouter } from "@drydock/contracts/router";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { drydock, fixture, processTable, removeStack, startStack, waitFor } from "../harness.js";
import type { Stack } from "../harness.js";

let stack: Stack;
const scratch: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  const registered = await drydock(["register", fixture("api-values.ts")], stack.env);
  expect(registered.code, registered.stderr).toBe(0);
});

afterAll(async () => {
  if (stack) await removeStack(stack);
  for (const path of scratch) await rm(path, { recursive: true, force: true });
});

const detail = (id: string) => stack.api.executions.get.query({ id });

async function launch(workflow: string, inputs: Record<string, unknown> = {}): Promise<string> {
  return (await stack.api.executions.create.mutate({ project: "default", workflow, inputs })).id;
}

/** The execution once it ended, or once its node has a second attempt (a retry the test forbids). */
function settled(id: string, timeoutMs = 110_000): Promise<ExecutionDetail> {
  return waitFor(
    `execution ${id} to end`,
    async () => {
      const d = await detail(id);
      return d.execution.status !== "RUNNING" || (d.nodes[0]?.attempts.length ?? 0) > 1
        ? d
        : undefined;
    },
    timeoutMs,
  );
}

/** The HTTP status a call was refused with, or "accepted". */
async function outcome(call: Promise<unknown>): Promise<number | "accepted"> {
  try {
    await call;
    return "accepted";
  } catch (error) {
    if (error instanceof TRPCClientError) return (error.data as { httpStatus: number }).httpStatus;
    throw error;
  }
}

/** POSTs a procedure call as a client would, for its status and error message. */
async function post(path: string, body: string): Promise<{ status: number; message: string }> {
  const response = await fetch(`${stack.url}/trpc/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/json" },
    body,
  });
  const answer = (await response.json()) as { error?: { message: string } };
  return { status: response.status, message: answer.error?.message ?? "" };
}

describe("values with U+0000 are kept exactly", () => {
  it("an output with U+0000 reads back exactly", async () => {
    const d = await settled(await launch("nul_output"));
    expect(d.nodes[0]?.error?.message).toBeUndefined();
    expect(d.execution.status).toBe("SUCCEEDED");
    expect(d.nodes[0]?.outputs).toBe("a\u0000b");
    expect(d.execution.result).toBe("a\u0000b");
  });

  it("an error message with U+0000 is recorded exactly, after the one attempt retries: 0 allows", async () => {
    const id = await launch("nul_error");
    const d = await settled(id);
    expect(d.nodes[0]?.attempts.map((a) => a.status)).toEqual(["FAILED"]);
    expect(d.nodes[0]?.error?.message).toBe("boom\u0000after");
    expect(d.nodes[0]?.attempts[0]?.error?.message).toBe("boom\u0000after");
    expect(d.execution.error?.message).toContain("boom\u0000after");
    const shown = await drydock(["executions", "get", id, "--output", "json"], stack.env);
    expect(shown.code, shown.stderr).toBe(0);
    expect((JSON.parse(shown.stdout) as ExecutionDetail).nodes[0]?.error?.message).toBe(
      "boom\u0000after",
    );
    const text = await drydock(["executions", "get", id], stack.env);
    expect(text.stdout).toContain("boom\u0000after");
  });

  it("an input with U+0000 is accepted and reads back exactly, through the task too", async () => {
    const id = await launch("echo", { text: "a\u0000b" });
    const d = await settled(id);
    expect(d.execution.inputs).toEqual({ text: "a\u0000b" });
    expect(d.nodes[0]?.inputs).toEqual({ text: "a\u0000b" });
    expect(d.execution.status).toBe("SUCCEEDED");
    expect(d.execution.result).toBe("a\u0000b");
  });
});

describe("an agent token ends with its attempt", () => {
  it(
    "after the attempt succeeded, its token can neither append to its log nor replace its session's edits",
    { timeout: 300_000 },
    async () => {
      const run = await drydock(["run", "--remote", fixture("api-edit.ts"), "api_edit"], stack.env);
      expect(run.code, run.stderr).toBe(0);
      const id = (run.stdout + run.stderr).match(/execution (x[a-z0-9]+) started/)?.[1] ?? "";
      const attemptId = await waitFor(
        "the interactive session to be READY",
        async () => {
          const d = await detail(id);
          if (d.execution.status !== "RUNNING")
            throw new Error(
              `execution ${id} ended ${d.execution.status}: ${JSON.stringify(d.execution.error)}`,
            );
          const attempt = d.nodes[0]?.attempts.at(-1);
          return attempt?.session?.state === "READY" ? attempt.id : undefined;
        },
        180_000,
      );

      // The local executor hands the agent its token in its environment: what a process of the task can read.
      const agent = (await processTable()).find((p) =>
        p.cmdline.includes(`--attempt ${attemptId}`),
      );
      if (!agent) throw new Error(`no agent process for attempt ${attemptId}`);
      const environ = (await readFile(`/proc/${agent.pid}/environ`, "utf8")).split("\0");
      const token =
        environ
          .find((v) => v.startsWith("DRYDOCK_AGENT_TOKEN="))
          ?.slice("DRYDOCK_AGENT_TOKEN=".length) ?? "";
      expect(token).not.toBe("");

      // The real edit, then Resume: the attempt SUCCEEDS with the edited code.
      const log = (await stack.api.executions.logs.query({ attemptId })).text;
      const workspace = log.match(/VS Code workspace: (\S+)/)?.[1] ?? "";
      const source = join(workspace, "api-edit.ts");
      await writeFile(
        source,
        (await readFile(source, "utf8")).replace("x * 2; // EDIT ME", "x * 3; // EDIT ME"),
      );
      const resumed = await drydock(["resume", id, "n0", "--yes"], stack.env);
      expect(resumed.code, resumed.stderr).toBe(0);
      const ended = await settled(id);
      expect(ended.execution.status).toBe("SUCCEEDED");
      expect(ended.execution.result).toBe(21);

      const asAgent = createTRPCClient<AppRouter>({
        links: [
          httpLink({ url: `${stack.url}/trpc`, headers: { authorization: `Bearer ${token}` } }),
        ],
      });
      // The one call the end itself needs, retried with the same result, is still answered (and changes nothing).
      const sha = createHash("sha256").update(JSON.stringify(21)).digest("hex");
      expect(await outcome(asAgent.agent.complete.mutate({ outputsSha256: sha }))).toBe("accepted");
      const forgedLine = `forged line ${randomBytes(4).toString("hex")}`;
      const appended = await outcome(
        asAgent.agent.log.mutate({
          lines: [{ stream: "stdout", text: forgedLine, at: new Date().toISOString() }],
        }),
      );
      const forgedPatch =
        "--- a/api-edit.ts\n+++ b/api-edit.ts\n@@ -1 +1 @@\n-import\n+import { evil } from 'forged';\n";
      const replaced = await outcome(asAgent.agent.updateSession.mutate({ changes: forgedPatch }));
      expect({ appended, replaced }).toEqual({ appended: 403, replaced: 403 });

      const changes = await drydock(["changes", id, "n0"], stack.env);
      expect(changes.code, changes.stderr).toBe(0);
      expect(changes.stdout).toContain(
        "-    const result = x * 2; // EDIT ME\n+    const result = x * 3; // EDIT ME\n",
      );
      expect(changes.stdout).not.toContain("forged");
      const logs = await drydock(["logs", id], stack.env);
      expect(logs.stdout).not.toContain(forgedLine);
    },
  );
});

describe("execution lists carry summaries; inputs have limits", () => {
  const MiB = 1024 * 1024;

  it("five 4 MiB inputs: a list page stays small, and get still returns the whole input", async () => {
    const data = `big:${"x".repeat(4 * MiB)}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await launch("hold", { data: `${i}${data}` }));
    const query = encodeURIComponent(
      JSON.stringify({ project: "default", workflow: "hold", limit: 50 }),
    );
    const response = await fetch(`${stack.url}/trpc/executions.list?input=${query}`, {
      headers: { authorization: `Bearer ${stack.token}` },
    });
    const body = await response.text();
    expect(response.status).toBe(200);
    expect(Buffer.byteLength(body)).toBeLessThan(32 * 1024);
    const listed = (
      JSON.parse(body) as {
        result: { data: { id: string; inputsBytes: number; inputsPreview: string }[] };
      }
    ).result.data;
    expect(listed.map((e) => e.id).sort()).toEqual([...ids].sort());
    for (const e of listed) {
      expect(e.inputsBytes).toBeGreaterThan(4 * MiB);
      expect(e.inputsPreview.startsWith('{"data":"')).toBe(true);
    }
    const first = await detail(ids[0] ?? "");
    expect(first.execution.inputs).toEqual({ data: `0${data}` });
    const cli = await drydock(["executions", "list", "--workflow", "hold"], stack.env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/INPUTS/);
    expect(cli.stdout).toMatch(/4\.0 MiB/);
  });

  it("an over-deep and an over-large input are each refused with 400 naming the limit", async () => {
    const deep = `{"project":"default","workflow":"hold","inputs":{"data":${"[".repeat(5_000)}${"]".repeat(5_000)}}}`;
    const tooDeep = await post("executions.create", deep);
    expect(tooDeep).toMatchObject({
      status: 400,
      message: expect.stringMatching(/deeper than 100 levels.*the limit is 100/) as string,
    });

    const large = JSON.stringify({
      project: "default",
      workflow: "hold",
      inputs: { data: "y".repeat(17 * MiB) },
    });
    const tooLarge = await post("executions.create", large);
    expect(tooLarge).toMatchObject({
      status: 400,
      message: expect.stringMatching(/the limit is 16 MiB/) as string,
    });
  });
});

describe("a task log that cannot be written", () => {
  it("is recorded as lost on the attempt, and drydock logs says so", async () => {
    const marker = join(tmpdir(), `drydock-log-loss-${randomBytes(4).toString("hex")}`);
    scratch.push(marker);
    const id = await launch("two_parts", { marker });
    const attemptId = await waitFor("part one in the log", async () => {
      const attempt = (await detail(id)).nodes[0]?.attempts.at(-1);
      if (!attempt) return undefined;
      return (await stack.api.executions.logs.query({ attemptId: attempt.id })).text.includes(
        "part one",
      )
        ? attempt.id
        : undefined;
    });
    // The server cannot write the attempt's log from here on (as root, a directory in its place does it).
    const path = join(stack.dataDir, "logs", `${attemptId}.log`);
    await rename(path, `${path}.moved`);
    await mkdir(path);
    await writeFile(marker, "");
    const d = await settled(id);
    expect(d.execution.status).toBe("SUCCEEDED");

    const logs = await drydock(["logs", id], stack.env);
    expect(logs.stderr).toMatch(
      /the log of n0 attempt 1 is incomplete: \d+ line\(s\) could not be stored \(.*EISDIR/,
    );
    expect(logs.code, logs.stderr).toBe(0);
    expect((await detail(id)).nodes[0]?.attempts[0]?.logLost).toMatchObject({
      lines: expect.any(Number) as number,
      reason: expect.stringContaining("EISDIR") as string,
    });
  });
});
