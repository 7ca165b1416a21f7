/**
 * The Swarm executor against the real engine as a one-node swarm: the engine is made a swarm manager here when
 * it is not one (and leaves the swarm afterwards), with an attachable overlay network of the test's own and a
 * node label of its own for placement. The stand-in agent is docker.test.ts's: drydock/base whose entrypoint
 * prints its arguments and environment, then sleeps until stopped (exiting 143 on SIGTERM, as an agent does),
 * or, for an attempt whose id says "exits", exits 7 at once.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import Docker from "dockerode";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { buildStandInAgent } from "../__tests__/stand-in-agent.js";

import { LABELS } from "./executor.js";
import type { AttemptExit } from "./executor.js";
import { placementConstraints, serviceName, SwarmExecutor } from "./swarm.js";

const run = promisify(execFile);
const IMAGE = "drydock-test/swarm-fake-agent:latest";
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const instance = `swarm-test-${process.pid}`;
const NETWORK = `drydock-test-${process.pid}`;
/** The label this test puts on the node, so a task can be placed by it. */
const NODE_LABEL = `drydock-test-${process.pid}`;
let work: string;
let nodeId: string;
/** Whether this test made the engine a swarm manager (then it leaves the swarm again). */
let initialised = false;

function executor(
  options: {
    instance?: string;
    replica?: string;
    network?: string;
    unplacedSeconds?: number;
    constraints?: string[];
  } = {},
): { executor: SwarmExecutor; exits: Map<string, AttemptExit>; warnings: string[] } {
  const exits = new Map<string, AttemptExit>();
  const warnings: string[] = [];
  const ex = new SwarmExecutor({
    docker,
    replica: options.replica ?? "r1",
    taskImage: IMAGE,
    network: options.network ?? NETWORK,
    endpoint: () => "http://server.invalid:8484",
    instance: options.instance ?? instance,
    attemptsDir: join(work, "attempts"),
    env: { DRYDOCK_HEARTBEAT_MS: "500" },
    // A real logger, writing to memory: what the executor warns about is part of what it does.
    log: pino({ level: "warn" }, { write: (line: string) => warnings.push(line) }),
    terminateGraceSeconds: 2,
    ...(options.unplacedSeconds === undefined ? {} : { unplacedSeconds: options.unplacedSeconds }),
    ...(options.constraints ? { constraints: options.constraints } : {}),
  });
  ex.onExit((attemptId, exit) => exits.set(attemptId, exit));
  return { executor: ex, exits, warnings };
}

type Task = Parameters<SwarmExecutor["launch"]>[0]["task"];
const launch = (ex: SwarmExecutor, attemptId: string, task: Task = { name: "t" }) =>
  ex.launch({
    attemptId,
    executionId: attemptId.split(".")[0] ?? attemptId,
    token: "secret-token",
    task,
  });

const servicesOf = (attemptId: string) =>
  docker.listServices({ filters: { label: [`${LABELS.attempt}=${attemptId}`] } });
const tasksOf = async (attemptId: string) =>
  (await docker.listTasks({
    filters: { label: [`${LABELS.attempt}=${attemptId}`] },
  })) as { Status: { State: string } }[];
const agentLog = (attemptId: string) =>
  readFile(join(work, "attempts", attemptId, "agent.log"), "utf8").catch(() => "");

/** Tasks change state as the swarm gets to them: poll, for as long as the engine may take. */
const engine = { timeout: 30_000, interval: 100 };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "drydock-swarm-test-"));
  const swarm = async () =>
    ((await docker.info()) as { Swarm: { LocalNodeState: string; NodeID: string } }).Swarm;
  if ((await swarm()).LocalNodeState === "inactive") {
    await run("docker", ["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    initialised = true;
  }
  nodeId = (await swarm()).NodeID;
  await run("docker", ["node", "update", "--label-add", `${NODE_LABEL}=yes`, nodeId]);
  await docker.createNetwork({ Name: NETWORK, Driver: "overlay", Attachable: true });
  await buildStandInAgent(
    IMAGE,
    work,
    [
      "#!/bin/sh",
      'echo "args: $*"',
      'echo "endpoint: $DRYDOCK_ENDPOINT token: $DRYDOCK_AGENT_TOKEN heartbeat: $DRYDOCK_HEARTBEAT_MS"',
      'echo "node: $DRYDOCK_NODE"',
      'case "$2" in *exits*) echo "done, exiting 7"; exit 7;; esac',
      "trap 'echo \"stopping\"; exit 143' TERM",
      "while :; do sleep 0.2; done",
      "",
    ].join("\n"),
  );
}, 10 * 60_000);

afterAll(async () => {
  // The temp dir goes even when the engine is unreachable (then the whole suite failed in beforeAll).
  try {
    for (const id of [instance, `${instance}-other`]) {
      for (const s of await docker.listServices({
        filters: { label: [`${LABELS.instance}=${id}`] },
      }))
        await docker.getService(s.ID).remove();
    }
    // The network goes once no task's container is attached to it any more.
    await vi.waitFor(async () => {
      const tasks = await docker.listTasks({
        filters: { label: [`${LABELS.instance}=${instance}`] },
      });
      expect(tasks).toEqual([]);
    }, engine);
    await vi.waitFor(() => docker.getNetwork(NETWORK).remove(), engine);
    if (nodeId) await run("docker", ["node", "update", "--label-rm", NODE_LABEL, nodeId]);
    await docker
      .getImage(IMAGE)
      .remove({ force: true })
      .catch(() => undefined);
  } finally {
    if (initialised) {
      await run("docker", ["swarm", "leave", "--force"]);
      // Joining made the bridge to the swarm's networks; leaving keeps it.
      await docker
        .getNetwork("docker_gwbridge")
        .remove()
        .catch(() => undefined);
    }
    if (work) await rm(work, { recursive: true, force: true });
  }
}, 120_000);

describe("serviceName and placementConstraints", () => {
  it("names services as DNS labels, apart for ids that sanitise alike and for other installations", () => {
    const name = serviceName("i1", "x1.n0[4].a1");
    expect(name).toMatch(/^drydock-x1-n0-4-a1-[0-9a-f]{8}$/);
    expect(name).not.toBe(serviceName("i1", "x1.n0-4-.a1"));
    expect(name).not.toBe(serviceName("i2", "x1.n0[4].a1"));
    expect(serviceName("i1", `x${"y".repeat(200)}`).length).toBeLessThanOrEqual(63);
  });

  it("turns a nodeSelector into node label constraints, and names a label Swarm cannot express", () => {
    expect(placementConstraints("t", { gpu: "true", zone: "eu-1" })).toEqual([
      "node.labels.gpu==true",
      "node.labels.zone==eu-1",
    ]);
    expect(() => placementConstraints("t", { "example.com/gpu": "true" })).toThrow(
      `task "t": Docker Swarm cannot place on the node label example.com/gpu="true"`,
    );
    expect(() => placementConstraints("t", { gpu: "" })).toThrow('node label gpu=""');
  });
});

describe("SwarmExecutor", { timeout: 60_000 }, () => {
  it("runs an attempt as a labelled service with its arguments, environment, limits, reservations, placement and network, its output in agent.log", async () => {
    // The installation keeps tasks on managers (this one-node swarm's only node) before the task's own label.
    const { executor: ex, exits } = executor({ constraints: ["node.role==manager"] });
    const { pid } = await launch(ex, "sa.n0.a1", {
      name: "placed",
      resources: { cpu: 0.25, memoryMiB: 64 },
      nodeSelector: { [NODE_LABEL]: "yes" },
    });
    expect(pid).toBe(0);
    const [service] = await servicesOf("sa.n0.a1");
    const labels = {
      [LABELS.instance]: instance,
      [LABELS.replica]: "r1",
      [LABELS.attempt]: "sa.n0.a1",
      [LABELS.execution]: "sa",
      [LABELS.task]: "placed",
    };
    const network = await docker.getNetwork(NETWORK).inspect();
    const limits = { NanoCPUs: 250_000_000, MemoryBytes: 64 * 1024 * 1024 };
    expect(service?.Spec).toMatchObject({
      Labels: labels,
      Mode: { Replicated: { Replicas: 1 } },
      TaskTemplate: {
        ContainerSpec: {
          Image: IMAGE,
          Args: ["--attempt", "sa.n0.a1"],
          Labels: labels,
          Init: true,
          StopGracePeriod: 2e9,
        },
        RestartPolicy: { Condition: "none" },
        Resources: { Limits: limits, Reservations: limits },
        Placement: { Constraints: ["node.role==manager", `node.labels.${NODE_LABEL}==yes`] },
        Networks: [{ Target: network.Id }],
      },
    });
    const env = (service?.Spec?.TaskTemplate as Docker.ContainerTaskSpec).ContainerSpec?.Env;
    expect(env).toEqual(
      expect.arrayContaining([
        "DRYDOCK_HEARTBEAT_MS=500",
        "DRYDOCK_ENDPOINT=http://server.invalid:8484",
        "DRYDOCK_AGENT_TOKEN=secret-token",
        "DRYDOCK_ATTEMPT_ID=sa.n0.a1",
      ]),
    );
    // It runs (the node has the label), and its container carries the labels too.
    await vi.waitFor(async () => {
      expect(await agentLog("sa.n0.a1")).toContain(
        "endpoint: http://server.invalid:8484 token: secret-token heartbeat: 500",
      );
    }, engine);
    expect(await agentLog("sa.n0.a1")).toContain("args: --attempt sa.n0.a1");
    // The task is told which node it was placed on (the engine's own name: a one-node swarm here).
    const { Name: engineName } = (await docker.info()) as { Name: string };
    expect(await agentLog("sa.n0.a1")).toContain(`node: ${engineName}`);
    const containers = await docker.listContainers({
      filters: { label: [`${LABELS.attempt}=sa.n0.a1`] },
    });
    expect(containers.map((c) => c.Labels)).toEqual([expect.objectContaining(labels)]);
    await ex.terminate("sa.n0.a1");
    expect(exits.has("sa.n0.a1")).toBe(true);
  });

  it("reports the agent's own exit code with its last output, and removes the service", async () => {
    const { executor: ex, exits } = executor();
    await launch(ex, "sb-exits.n0.a1");
    await vi.waitFor(() => expect(exits.has("sb-exits.n0.a1")).toBe(true), engine);
    const exit = exits.get("sb-exits.n0.a1");
    expect(exit).toMatchObject({ code: 7, signal: null });
    expect(exit?.tail).toContain("args: --attempt sb-exits.n0.a1");
    expect(exit?.tail).toContain("done, exiting 7");
    expect(await agentLog("sb-exits.n0.a1")).toBe(exit?.tail);
    expect(await servicesOf("sb-exits.n0.a1")).toEqual([]);
  });

  it("ends an attempt with SIGTERM on terminate, keeps its output, and returns once its task is gone", async () => {
    const { executor: ex, exits } = executor();
    await launch(ex, "sc.n0.a1");
    await vi.waitFor(async () => expect(await agentLog("sc.n0.a1")).toContain("token:"), engine);
    await ex.terminate("sc.n0.a1");
    expect(await servicesOf("sc.n0.a1")).toEqual([]);
    expect(await tasksOf("sc.n0.a1")).toEqual([]);
    expect(await agentLog("sc.n0.a1")).toContain("stopping");
    expect(exits.get("sc.n0.a1")?.tail).toContain("stopping");
  });

  it("reports a task whose image no node has, with the engine's reason", async () => {
    const { executor: ex, exits } = executor();
    await launch(ex, "sd.n0.a1", {
      name: "t",
      image: { name: "gone", packages: [], env: {}, ref: "drydock-test/missing:none" },
    });
    await vi.waitFor(() => expect(exits.has("sd.n0.a1")).toBe(true), engine);
    expect(exits.get("sd.n0.a1")).toMatchObject({ code: null, signal: null });
    expect(exits.get("sd.n0.a1")?.tail).toContain(
      "the swarm rejected the attempt's task: No such image: drydock-test/missing:none",
    );
    expect(await servicesOf("sd.n0.a1")).toEqual([]);
  });

  it("refuses a node label Swarm cannot express, naming it, and creates no service", async () => {
    const { executor: ex } = executor();
    await expect(
      launch(ex, "se.n0.a1", { name: "zoned", nodeSelector: { "example.com/zone": "eu" } }),
    ).rejects.toThrow(
      'task "zoned": Docker Swarm cannot place on the node label example.com/zone="eu"',
    );
    expect(await servicesOf("se.n0.a1")).toEqual([]);
  });

  it("names a missing network in its error, and creates no service", async () => {
    const { executor: ex } = executor({ network: `${NETWORK}-missing` });
    await expect(launch(ex, "sm.n0.a1")).rejects.toThrow(
      `the swarm network ${NETWORK}-missing is not there: create it (docker network create --driver overlay --attachable ${NETWORK}-missing)`,
    );
    expect(await servicesOf("sm.n0.a1")).toEqual([]);
  });

  it("keeps a task no node can take pending, warns with the engine's reason, and reports it after unplacedSeconds naming its constraint", async () => {
    const { executor: ex, exits, warnings } = executor({ unplacedSeconds: 3 });
    const started = Date.now();
    await launch(ex, "sf.n0.a1", {
      name: "gpu",
      resources: { memoryMiB: 16 },
      nodeSelector: { [`${NODE_LABEL}-absent`]: "yes" },
    });
    const unplaced = () =>
      warnings
        .map((line) => JSON.parse(line) as { msg: string; reason?: string; demands?: string })
        .filter((w) => w.msg === "no node can run the attempt yet");
    await vi.waitFor(() => expect(unplaced()).toHaveLength(1), engine);
    const [warning] = unplaced();
    expect(warning?.reason).toMatch(/no suitable node \(scheduling constraints not satisfied/);
    expect(warning?.demands).toBe(`node.labels.${NODE_LABEL}-absent==yes, 16 MiB of memory`);
    // Still waiting for a node, and not reported yet.
    expect((await tasksOf("sf.n0.a1")).map((t) => t.Status.State)).toEqual(["pending"]);
    expect(exits.has("sf.n0.a1")).toBe(false);

    await vi.waitFor(() => expect(exits.has("sf.n0.a1")).toBe(true), engine);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(exits.get("sf.n0.a1")).toMatchObject({ code: null, signal: null });
    expect(exits.get("sf.n0.a1")?.tail).toMatch(
      new RegExp(
        `^no node of the swarm took the attempt within 3s: no suitable node \\(scheduling constraints not satisfied.*\\); it asks for node\\.labels\\.${NODE_LABEL}-absent==yes, 16 MiB of memory$`,
      ),
    );
    expect(await servicesOf("sf.n0.a1")).toEqual([]);
  });

  it("terminates a service another replica of the installation started, and that replica hears it end", async () => {
    const r1 = executor({ replica: "r1" });
    await launch(r1.executor, "sg.n0.a1");
    await vi.waitFor(async () => expect(await agentLog("sg.n0.a1")).toContain("token:"), engine);
    // Another replica: another executor object, which never launched it.
    const r2 = executor({ replica: "r2" });
    await r2.executor.terminate("sg.n0.a1");
    expect(await servicesOf("sg.n0.a1")).toEqual([]);
    expect(await tasksOf("sg.n0.a1")).toEqual([]);
    await vi.waitFor(() => expect(r1.exits.has("sg.n0.a1")).toBe(true), engine);
    expect(r2.exits.has("sg.n0.a1")).toBe(false);
  });

  it("after a restart, adopts running services by label, and forgetOthers removes ended replicas' others but leaves live replicas' and other installations'", async () => {
    const before = executor({ replica: "r1" });
    await launch(before.executor, "sh.n0.a1");
    await launch(before.executor, "si.n0.a1");
    const live = executor({ replica: "r2" });
    await launch(live.executor, "sj.n0.a1");
    const other = executor({ instance: `${instance}-other`, replica: "r1" });
    await launch(other.executor, "sk.n0.a1");
    // A service r1 left that ended while no server watched it (made here as r1 would have).
    const [template] = await servicesOf("si.n0.a1");
    const spec = template?.Spec as Docker.ServiceSpec;
    const endedLabels = { ...spec.Labels, [LABELS.attempt]: "sl-exits.n0.a1" };
    await docker.createService({
      ...spec,
      Name: serviceName(instance, "sl-exits.n0.a1"),
      Labels: endedLabels,
      TaskTemplate: {
        ...spec.TaskTemplate,
        ContainerSpec: {
          ...(spec.TaskTemplate as Docker.ContainerTaskSpec).ContainerSpec,
          Args: ["--attempt", "sl-exits.n0.a1"],
          Labels: endedLabels,
        },
      },
    });
    await vi.waitFor(async () => {
      expect((await tasksOf("sl-exits.n0.a1")).map((t) => t.Status.State)).toEqual(["failed"]);
    }, engine);

    // A new executor (replica r3), as after r1 crashed: it takes back sh (under the attempt it runs now).
    const after = executor({ replica: "r3" });
    expect(await after.executor.adopt("sh.n0.a2", 0, "sh.n0.a1")).toBe(true);
    expect(await after.executor.adopt("sl-exits.n0.a1", 0, "sl-exits.n0.a1")).toBe(false);
    expect(await servicesOf("sl-exits.n0.a1")).toEqual([]);
    expect(await after.executor.adopt("sz.n0.a1", 0, "sz.n0.a1")).toBe(false);
    expect(await after.executor.adopt("sk.n0.a1", 0, "sk.n0.a1")).toBe(false);

    await after.executor.forgetOthers(new Set(["r1"]));
    expect(await servicesOf("si.n0.a1")).toEqual([]);
    expect(await servicesOf("sh.n0.a1")).toHaveLength(1);
    expect(await servicesOf("sj.n0.a1")).toHaveLength(1);
    expect(await servicesOf("sk.n0.a1")).toHaveLength(1);

    // The adopted attempt ends through its new owner.
    await after.executor.terminate("sh.n0.a2");
    expect(after.exits.has("sh.n0.a2")).toBe(true);
    expect(await servicesOf("sh.n0.a1")).toEqual([]);
    await Promise.all([live.executor.shutdown(), other.executor.shutdown()]);
    expect(await servicesOf("sj.n0.a1")).toEqual([]);
    expect(await servicesOf("sk.n0.a1")).toEqual([]);
  });
});
