/**
 * The Docker executor against the real engine, with a stand-in agent image: drydock/base whose entrypoint
 * prints its arguments and environment, then sleeps until stopped (exiting 143 on SIGTERM, as an agent does).
 * The whole stack on it (ImageSpec images, interactive sessions, compose) is tested in e2e/src/compose.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { buildStandInAgent } from "../__tests__/stand-in-agent.js";
import { createLogger } from "../logger.js";
import { containerName, DockerExecutor, LABELS } from "./docker.js";
import type { AttemptExit } from "./executor.js";

const IMAGE = "drydock-test/fake-agent:latest";
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const instance = `test-${process.pid}`;
let work: string;

function executor(
  id = instance,
  replica = "r1",
): { executor: DockerExecutor; exits: Map<string, AttemptExit> } {
  const exits = new Map<string, AttemptExit>();
  const ex = new DockerExecutor({
    docker,
    replica,
    taskImage: IMAGE,
    network: "none",
    endpoint: () => "http://server.invalid:8484",
    instance: id,
    attemptsDir: join(work, "attempts"),
    env: { DRYDOCK_HEARTBEAT_MS: "500" },
    log: createLogger("silent"),
    terminateGraceSeconds: 2,
  });
  ex.onExit((attemptId, exit) => exits.set(attemptId, exit));
  return { executor: ex, exits };
}

const launch = (
  ex: DockerExecutor,
  attemptId: string,
  task: Parameters<DockerExecutor["launch"]>[0]["task"] = { name: "t" },
) =>
  ex.launch({
    attemptId,
    executionId: attemptId.split(".")[0] ?? attemptId,
    token: "secret-token",
    task,
  });

async function byAttempt(attemptId: string) {
  return docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.attempt}=${attemptId}`] },
  });
}

/** Container state changes as the engine gets to it: poll, for as long as the engine may take. */
const engine = { timeout: 30_000, interval: 100 };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "drydock-docker-test-"));
  await buildStandInAgent(
    IMAGE,
    work,
    '#!/bin/sh\necho "args: $*"\necho "endpoint: $DRYDOCK_ENDPOINT token: $DRYDOCK_AGENT_TOKEN heartbeat: $DRYDOCK_HEARTBEAT_MS"\ntrap \'echo "stopping"; exit 143\' TERM\nwhile :; do sleep 0.2; done\n',
  );
}, 10 * 60_000);

afterAll(async () => {
  // The temp dir goes even when the engine is unreachable (then the whole suite failed in beforeAll).
  try {
    for (const id of [instance, `${instance}-other`]) {
      for (const c of await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.instance}=${id}`] },
      })) {
        await docker.getContainer(c.Id).remove({ force: true });
      }
    }
    await docker
      .getImage(IMAGE)
      .remove({ force: true })
      .catch(() => undefined);
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe("containerName", () => {
  it("keeps to Docker's characters, and keeps ids apart that sanitise alike", () => {
    expect(containerName("x1.n0[4].a1")).toMatch(/^drydock-x1\.n0_4_\.a1-[0-9a-f]{8}$/);
    expect(containerName("x1.n0[4].a1")).not.toBe(containerName("x1.n0_4_.a1"));
  });
});

describe("DockerExecutor", () => {
  it("runs an attempt as a labelled container with its arguments, environment and limits, and no published port", async () => {
    const { executor: ex } = executor();
    const { pid } = await launch(ex, "xa.n0.a1", {
      name: "limited",
      resources: { cpu: 0.25, memoryMiB: 64 },
    });
    expect(pid).toBeGreaterThan(0);
    const info = await docker.getContainer(containerName("xa.n0.a1")).inspect();
    expect(info.Config.Labels).toMatchObject({
      [LABELS.instance]: instance,
      [LABELS.attempt]: "xa.n0.a1",
      [LABELS.execution]: "xa",
      [LABELS.task]: "limited",
    });
    expect(info.Config.Cmd).toEqual(["--attempt", "xa.n0.a1"]);
    expect(info.HostConfig).toMatchObject({
      NetworkMode: "none",
      NanoCpus: 250_000_000,
      Memory: 64 * 1024 * 1024,
      Init: true,
    });
    expect(info.HostConfig.PortBindings ?? {}).toEqual({});
    await ex.terminate("xa.n0.a1");
  });

  it("ends an attempt with SIGTERM on terminate, keeps its output as the exit's tail, and removes the container", async () => {
    const { executor: ex, exits } = executor();
    await launch(ex, "xb.n0.a1");
    await vi.waitFor(async () => {
      const logs = (
        await docker.getContainer(containerName("xb.n0.a1")).logs({ stdout: true, stderr: true })
      ).toString();
      expect(logs).toContain("token:");
    }, engine);
    await ex.terminate("xb.n0.a1");
    const exit = exits.get("xb.n0.a1");
    expect(exit).toMatchObject({ code: 143, signal: "SIGTERM" });
    expect(exit?.tail).toContain("args: --attempt xb.n0.a1");
    expect(exit?.tail).toContain(
      "endpoint: http://server.invalid:8484 token: secret-token heartbeat: 500",
    );
    expect(exit?.tail).toContain("stopping");
    expect(await byAttempt("xb.n0.a1")).toEqual([]);
  });

  it("names a missing task image in its error, and leaves no container", async () => {
    const { executor: ex } = executor();
    await expect(
      launch(ex, "xc.n0.a1", {
        name: "t",
        image: { name: "gone", packages: [], env: {}, ref: "drydock-test/missing:none" },
      }),
    ).rejects.toThrow("the task image drydock-test/missing:none is not there");
    expect(await byAttempt("xc.n0.a1")).toEqual([]);
  });

  it("after a restart, adopts its running containers by name, removes the others of ended replicas, and leaves live replicas' and other servers' alone", async () => {
    const before = executor();
    await launch(before.executor, "xd.n0.a1");
    await launch(before.executor, "xe.n0.a1");
    const other = executor(`${instance}-other`);
    await launch(other.executor, "xf.n0.a1");
    const live = executor(instance, "r2");
    await launch(live.executor, "xg.n0.a1");

    // A new executor (replica r3), as after r1 crashed: it takes back xd (under the attempt it runs now), not xe.
    const after = executor(instance, "r3");
    expect(await after.executor.adopt("xd.n0.a2", 1, "xd.n0.a1")).toBe(true);
    expect(await after.executor.adopt("xz.n0.a1", 1, "xz.n0.a1")).toBe(false);
    expect(await after.executor.adopt("xf.n0.a1", 1, "xf.n0.a1")).toBe(false);
    await after.executor.forgetOthers(new Set(["r1"]));
    expect(await byAttempt("xe.n0.a1")).toEqual([]);
    expect((await byAttempt("xf.n0.a1")).map((c) => c.State)).toEqual(["running"]);
    expect((await byAttempt("xg.n0.a1")).map((c) => c.State)).toEqual(["running"]);

    // An abort decided on r3 reaches the container the live replica r2 watches; r2 hears it exit.
    await after.executor.terminate("xg.n0.a1");
    await vi.waitFor(() => expect(live.exits.get("xg.n0.a1")).toMatchObject({ code: 143 }), engine);

    await after.executor.terminate("xd.n0.a2");
    expect(after.exits.get("xd.n0.a2")).toMatchObject({ code: 143 });
    // (The first executor still watches it too, as a crashed server would not, and may be the one removing it.)
    await vi.waitFor(async () => expect(await byAttempt("xd.n0.a1")).toEqual([]), engine);
    await other.executor.shutdown();
    expect(await byAttempt("xf.n0.a1")).toEqual([]);
  });
});
