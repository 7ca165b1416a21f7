import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import type { IdeHandlers } from "@drydock/contracts/ide";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startControlServer } from "./control.js";
import type { ControlServer } from "./control.js";
import {
  entrypointCommand,
  INPUT_OVERRIDE_FILE,
  prepareWorkspace,
  RESUME_FILE,
} from "./workspace.js";

const run = promisify(execFile);
const TOKEN = "t0ken-for-this-session";

let dir: string;
let workspace: string;
let control: ControlServer;
const calls: string[] = [];
let accepting = true;

const handlers: IdeHandlers = {
  context: async () => ({
    execution: { id: "x1", workflow: "wf", version: "v1" },
    node: { id: "n0", task: "echo" },
    attempt: { id: "x1.n0.a1", number: 1 },
    inputs: { x: 1 },
    upstream: [],
    entry: "task.ts",
  }),
  status: async () => ({
    state: "open",
    maxIdleSeconds: 60,
    limit: "idle",
    resumeRequested: false,
  }),
  keepAlive: async () => ({
    state: "open",
    maxIdleSeconds: 60,
    limit: "idle",
    resumeRequested: false,
  }),
  resume: async (input) => {
    calls.push(`resume ${input?.choice ?? "edited"}`);
    return accepting
      ? { accepted: true, message: "resuming now" }
      : { accepted: false, message: "the session is already ending" };
  },
  changes: async () => ({ patch: "", files: [] }),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-control-test-"));
  // A bundle whose one task echoes its inputs: the shape the generated entrypoint looks for.
  const bundle = join(dir, "bundle");
  await mkdir(bundle);
  await writeFile(join(bundle, "package.json"), '{ "type": "module" }\n');
  await writeFile(
    join(bundle, "task.ts"),
    'export const echo = { [Symbol.for("drydock.entity")]: { kind: "task", spec: { name: "echo" }, execute: async (inputs: unknown) => inputs } };\n',
  );
  const socket = join(dir, "control.sock");
  const tokenFile = join(dir, "control.token");
  await writeFile(tokenFile, TOKEN, { mode: 0o600 });
  workspace = await prepareWorkspace({
    bundleDir: bundle,
    manifest: { formatVersion: 1, entry: "task.ts", sources: ["task.ts"], packages: {} },
    dir: join(dir, "workspace"),
    task: { name: "echo", executionId: "x1", nodeId: "n0", attemptNumber: 1 },
    inputs: { x: 1 },
    controlSocket: socket,
    controlTokenFile: tokenFile,
    nodeBin: process.execPath,
  });
  control = await startControlServer(socket, TOKEN, handlers);
});
afterAll(async () => {
  await control?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A raw tRPC call on the socket: status and body. */
function call(path: string, authorization?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: control.socketPath,
        path,
        method: "GET",
        headers: authorization ? { authorization } : {},
      },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const resumeScript = (env: Record<string, string>, flags: string[] = []) =>
  run(process.execPath, [join(workspace, RESUME_FILE), "--yes", ...flags], {
    cwd: workspace,
    env: { PATH: process.env.PATH ?? "", ...env },
  }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      out: e.stdout + e.stderr,
    }),
  );

describe("the session's control socket (the IDE contract over tRPC)", () => {
  it("is a socket only its owner may use (0600, whatever the umask)", async () => {
    expect((await stat(control.socketPath)).mode & 0o777).toBe(0o600);
  });

  it("answers the IDE's procedures to the holder of the control token only", async () => {
    const ok = await call("/context", `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({
      result: { data: { node: { id: "n0", task: "echo" }, inputs: { x: 1 } } },
    });
    for (const wrong of [undefined, "Bearer nope", `Bearer ${TOKEN}x`, TOKEN]) {
      const refused = await call("/context", wrong);
      expect(refused.status, String(wrong)).toBe(401);
      expect(refused.body).toContain("control token is required");
    }
  });

  it("the generated resume script asks the agent to resume with the token from its environment, and says why when it cannot", async () => {
    const resumed = await resumeScript({
      DRYDOCK_CONTROL_SOCKET: control.socketPath,
      DRYDOCK_CONTROL_TOKEN: TOKEN,
    });
    expect(resumed).toEqual({ code: 0, out: "resuming now\n" });
    expect(calls).toEqual(["resume edited"]);

    accepting = false;
    const ending = await resumeScript({
      DRYDOCK_CONTROL_SOCKET: control.socketPath,
      DRYDOCK_CONTROL_TOKEN: TOKEN,
    });
    expect(ending).toEqual({ code: 1, out: "the session is already ending\n" });

    const wrongToken = await resumeScript({
      DRYDOCK_CONTROL_SOCKET: control.socketPath,
      DRYDOCK_CONTROL_TOKEN: "nope",
    });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.out).toContain("the agent refused: the session's control token is required");
    // Run by hand from another shell of the same user: the socket and token come from the session's files.
    accepting = true;
    const byHand = await resumeScript({});
    expect(byHand).toEqual({ code: 0, out: "resuming now\n" });
    await rm(join(dir, "control.token"));
    const noToken = await resumeScript({});
    expect(noToken).toMatchObject({
      code: 2,
      out: expect.stringContaining("DRYDOCK_CONTROL_TOKEN is not set") as string,
    });
    expect(calls).toHaveLength(3);
  });

  it("the resume script passes a paused task's choice, and refuses two choices or an unknown flag before asking anything", async () => {
    const env = { DRYDOCK_CONTROL_SOCKET: control.socketPath, DRYDOCK_CONTROL_TOKEN: TOKEN };
    calls.length = 0;
    expect(await resumeScript(env, ["--original"])).toEqual({ code: 0, out: "resuming now\n" });
    expect(await resumeScript(env, ["--fail"])).toEqual({ code: 0, out: "resuming now\n" });
    expect(await resumeScript(env, ["--edited"])).toEqual({ code: 0, out: "resuming now\n" });
    expect(calls).toEqual(["resume original", "resume fail", "resume edited"]);

    const both = await resumeScript(env, ["--original", "--fail"]);
    expect(both).toMatchObject({
      code: 2,
      out: expect.stringContaining(
        "give at most one of --edited, --original, --fail (got --original --fail)",
      ) as string,
    });
    const unknown = await resumeScript(env, ["--skip"]);
    expect(unknown).toMatchObject({
      code: 2,
      out: expect.stringContaining("unknown argument --skip") as string,
    });
    expect(calls).toHaveLength(3);
  });

  it("Interactive Debugging's entrypoint runs on an input override when one exists, leaving the received inputs as they were", async () => {
    const { command, args, cwd } = entrypointCommand(workspace, process.execPath);
    const received = await run(command, args, { cwd });
    expect(received.stdout).toContain('echo returned {"x":1}');
    expect(received.stdout).not.toContain("override");

    await writeFile(join(workspace, INPUT_OVERRIDE_FILE), JSON.stringify({ x: 5 }));
    const overridden = await run(command, args, { cwd });
    expect(overridden.stdout).toContain(`using the input override in ${INPUT_OVERRIDE_FILE}`);
    expect(overridden.stdout).toContain('echo returned {"x":5}');
    expect(JSON.parse(await readFile(join(workspace, ".drydock/inputs.json"), "utf8"))).toEqual({
      x: 1,
    });
  });
});
