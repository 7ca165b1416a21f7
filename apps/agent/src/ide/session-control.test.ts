import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describePause, LAUNCH_NAMES } from "@drydock/contracts";
import type { PauseInfo } from "@drydock/contracts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { ActivityMonitor } from "./activity-monitor.js";
import type { ControlServer } from "./control.js";
import { IdleDeadline } from "./idle-deadline.js";
import type { SessionBeatAnswer } from "./session-beat.js";
import { startSessionControl } from "./session-control.js";
import { describeEndReason, Ending } from "./session-ending.js";
import { SessionPause } from "./session-pause.js";

const TOKEN = "control-t0ken";
const THROWN: PauseInfo = {
  reason: "exception",
  file: "steps.ts",
  line: 12,
  message: "boom",
  name: "RangeError",
  stack: "RangeError: boom\n    at scale (steps.ts:12:11)",
  at: "2026-12-06T10:00:00.000Z",
};

let dir: string;
let stop: AbortController;
let control: ControlServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-session-control-test-"));
  stop = new AbortController();
});
afterEach(async () => {
  await control?.close();
  control = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** The session's control socket, as holdSession starts it, with or without a paused task. */
async function serve(pause?: SessionPause) {
  const ending = new Ending(stop.signal);
  const idle = new IdleDeadline(ending, 600);
  control = await startSessionControl({
    socketPath: join(dir, "control.sock"),
    token: TOKEN,
    assignment: {
      attemptId: "a1",
      executionId: "x1",
      nodeId: "n0",
      attemptNumber: 1,
      task: { name: "steps", inputs: {}, required: [], output: {}, retries: 0 },
      bundle: { sha256: "0".repeat(64), url: "http://127.0.0.1/b", entry: "steps.ts" },
      inputsUrl: "http://127.0.0.1/i",
      outputsUploadUrl: "http://127.0.0.1/o",
    },
    bundle: {
      dir,
      manifest: { formatVersion: 1, entry: "steps.ts", sources: [], packages: {} },
      downloaded: false,
    },
    inputs: { n: 3 },
    workspace: dir,
    ending,
    idle,
    activity: new ActivityMonitor(join(dir, "heartbeat"), () => []),
    beatNow: () => Promise.resolve(),
    writeTaskLog: () => undefined,
    ...(pause ? { pause } : {}),
  });
  return { ending, idle };
}

/** One tRPC call on the control socket, as the extension and the resume script make it. */
function callControl(path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: join(dir, "control.sock"),
        path: `/${path}`,
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () =>
          resolve((JSON.parse(text) as { result?: { data?: unknown } }).result?.data),
        );
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe("a session's resume choices on its control socket", () => {
  it("ends a paused task's session with the IDE's choice, reported as decided by the IDE", async () => {
    const { ending } = await serve(new SessionPause(THROWN, "ws+unix:/x.sock:/", dir));
    expect(await callControl("resume", { choice: "fail" })).toEqual({
      accepted: true,
      message: expect.stringContaining("fails with the original error") as string,
    });
    expect(ending.settled).toEqual({
      kind: "resume",
      choice: "fail",
      by: "the IDE",
      decidedHere: true,
    });
    // The first choice wins.
    expect(await callControl("resume", { choice: "original" })).toEqual({
      accepted: false,
      message: "the session is already ending",
    });
  });

  it("resumes with the edited sources when no choice is given", async () => {
    const { ending } = await serve(new SessionPause(THROWN, "ws+unix:/x.sock:/", dir));
    expect(await callControl("resume", {})).toMatchObject({ accepted: true });
    expect(ending.settled).toMatchObject({ kind: "resume", choice: "edited" });
  });

  it("refuses the original code and ending as failed when the session's task is not paused, and stays open", async () => {
    const { ending } = await serve();
    for (const choice of ["original", "fail"]) {
      const answer = (await callControl("resume", { choice })) as {
        accepted: boolean;
        message: string;
      };
      expect(answer.accepted).toBe(false);
      expect(answer.message).toMatch(/only for a paused task.*not paused/);
    }
    expect(ending.settled).toBeUndefined();
    expect(await callControl("resume", { choice: "edited" })).toMatchObject({ accepted: true });
  });

  it("says where the task is paused and which configuration attaches to it, while it is paused", async () => {
    const pause = new SessionPause(THROWN, "ws+unix:/x.sock:/", dir);
    await serve(pause);
    expect(await callControl("context")).toMatchObject({
      paused: { ...THROWN, attachConfiguration: LAUNCH_NAMES.attach },
    });
    pause.update(null);
    expect(await callControl("context")).not.toHaveProperty("paused");
  });
});

describe("the session's deadline", () => {
  const answer = (overrides: Partial<SessionBeatAnswer>): SessionBeatAnswer => ({
    idleRemainingMs: 60_000,
    idleDeadline: "2026-12-06T10:01:00.000Z",
    limit: "unopened",
    resumeRequested: false,
    ...overrides,
  });

  it("ends a session nobody opened as unopened, and one that was used as idle", () => {
    const unopened = new Ending(stop.signal);
    const deadline = new IdleDeadline(unopened, 600);
    deadline.answered(answer({ limit: "unopened" }));
    expect(unopened.settled).toBeUndefined();
    deadline.answered(answer({ limit: "unopened", idleRemainingMs: 0 }));
    expect(unopened.settled).toEqual({ kind: "unopened" });
    expect(
      describeEndReason({ kind: "unopened" }, { maxIdleSeconds: 600, maxUnopenedSeconds: 150 }),
    ).toBe("nobody opened it within 150 s");

    const idle = new Ending(stop.signal);
    new IdleDeadline(idle, 600).answered(answer({ limit: "idle", idleRemainingMs: -5 }));
    expect(idle.settled).toEqual({ kind: "idle" });
  });

  it("shows the IDE which limit applies", () => {
    const deadline = new IdleDeadline(new Ending(stop.signal), 600);
    expect(deadline.status()).toMatchObject({ limit: "unopened", maxIdleSeconds: 600 });
    deadline.answered(answer({ limit: "idle" }));
    expect(deadline.status()).toMatchObject({
      state: "open",
      limit: "idle",
      idleRemainingMs: 60_000,
    });
  });

  it("ends the session with the choice a user asked for in the console or the CLI, recorded by the server", () => {
    const ending = new Ending(stop.signal);
    new IdleDeadline(ending, 600).answered(
      answer({ resumeRequested: true, resumeChoice: "original", idleRemainingMs: 0 }),
    );
    expect(ending.settled).toEqual({
      kind: "resume",
      choice: "original",
      by: "a user (console or CLI)",
      decidedHere: false,
    });
  });
});

describe("a paused task's pause", () => {
  it("tells the session of a new pause, of none, and of the process running to its end, even before the session watches", () => {
    const pause = new SessionPause(THROWN, "ws+unix:/x.sock:/", dir);
    expect(describePause(pause.current ?? THROWN)).toBe("paused at steps.ts:12: boom");
    pause.finish();
    const seen: string[] = [];
    pause.watch({
      updated: (p) => seen.push(p ? describePause(p) : "not paused"),
      finished: () => seen.push("finished"),
    });
    expect(seen).toEqual(["finished"]);
    pause.update({ ...THROWN, line: 20, message: "again" });
    pause.update(null);
    expect(seen).toEqual(["finished", "paused at steps.ts:20: again", "not paused"]);
    expect(pause.current).toBeUndefined();
  });
});
