import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";

import type Docker from "dockerode";

import { signalOf, statusOf } from "./engine.js";
import type { EngineExecutorOptions } from "./engine.js";
import { agentEnvironment, LABELS } from "./executor.js";
import type { AttemptExit, AttemptLaunch, Executor } from "./executor.js";
import { tailFile } from "./tail.js";

export { LABELS } from "./executor.js";

/** `terminateGraceSeconds` becomes each container's stop timeout. */
export type DockerExecutorOptions = EngineExecutorOptions;

interface Running {
  container: Docker.Container;
  /** The attempt the container was started for (its name). */
  agent: string;
  /** Settles once the container has exited, its output is saved and it is removed. */
  done: Promise<void>;
}

/** A container name for an attempt: Docker allows [a-zA-Z0-9_.-]; a hash keeps sanitised names apart. */
export function containerName(attemptId: string): string {
  const hash = createHash("sha256").update(attemptId).digest("hex").slice(0, 8);
  return `drydock-${attemptId.replace(/[^a-zA-Z0-9_.-]/g, "_").slice(0, 80)}-${hash}`;
}

/**
 * Runs each attempt as a container of its task's image: the agent is the image's entrypoint, started with
 * the attempt's token and the server's address, and it only dials out (to the server and the relay); no
 * port is published. The task's resources become the container's CPU and memory limits. The container's
 * output is saved as the attempt's agent.log; once it exits it is removed. Containers outlive a server
 * crash; a restarted server adopts them by name and removes the rest of its own (`forgetOthers`).
 */
export class DockerExecutor implements Executor {
  readonly kind = "docker";
  readonly isolation = "container";
  readonly warmAgents = false;
  private readonly running = new Map<string, Running>();
  private readonly listeners: ((attemptId: string, exit: AttemptExit) => void)[] = [];
  private readonly graceSeconds: number;

  constructor(private readonly opts: DockerExecutorOptions) {
    this.graceSeconds = opts.terminateGraceSeconds ?? 5;
  }

  onExit(listener: (attemptId: string, exit: AttemptExit) => void): void {
    this.listeners.push(listener);
  }

  private dir(agent: string): string {
    return join(this.opts.attemptsDir, agent);
  }

  async launch(attempt: AttemptLaunch): Promise<{ pid: number }> {
    const { docker } = this.opts;
    const image = attempt.task.image?.ref ?? this.opts.taskImage;
    const name = containerName(attempt.attemptId);
    if (Object.keys(attempt.task.nodeSelector ?? {}).length > 0)
      // One engine is one machine: the task runs here rather than not at all.
      this.opts.log.warn(
        { attemptId: attempt.attemptId, nodeSelector: attempt.task.nodeSelector },
        "the Docker executor runs every task on its one engine: the task's nodeSelector is ignored",
      );
    await mkdir(this.dir(attempt.attemptId), { recursive: true, mode: 0o700 });
    // A container left by a launch that failed half-way (the server died between create and start).
    await docker
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined);
    let container: Docker.Container;
    try {
      container = await docker.createContainer(this.containerSpec(attempt, name, image));
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new Error(
          `the task image ${image} is not there: \`drydock register\` builds ImageSpec images, and \`bash infra/images/build.sh\` builds ${this.opts.taskImage}`,
        );
      }
      throw error;
    }
    try {
      await container.start();
      const info = await container.inspect();
      this.watch(attempt.attemptId, attempt.attemptId, container, 0);
      return { pid: info.State.Pid };
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** The attempt's container: its agent's arguments and environment, its labels, and the task's limits. */
  private containerSpec(
    attempt: AttemptLaunch,
    name: string,
    image: string,
  ): Docker.ContainerCreateOptions {
    const { cpu, memoryMiB } = attempt.task.resources ?? {};
    return {
      name,
      Image: image,
      Cmd: ["--attempt", attempt.attemptId],
      Env: Object.entries({
        ...this.opts.env,
        ...agentEnvironment(attempt, this.opts.endpoint()),
      }).map(([k, v]) => `${k}=${v}`),
      Labels: {
        [LABELS.instance]: this.opts.instance,
        ...(this.opts.replica === undefined ? {} : { [LABELS.replica]: this.opts.replica }),
        [LABELS.attempt]: attempt.attemptId,
        [LABELS.execution]: attempt.executionId,
        [LABELS.task]: attempt.task.name,
      },
      HostConfig: {
        NetworkMode: this.opts.network,
        // Docker's init (tini) is PID 1: it forwards the stop signal to the agent and reaps what the task leaves.
        Init: true,
        SecurityOpt: ["no-new-privileges"],
        ...(cpu === undefined ? {} : { NanoCpus: Math.round(cpu * 1e9) }),
        ...(memoryMiB === undefined ? {} : { Memory: memoryMiB * 1024 * 1024 }),
      },
      StopTimeout: this.graceSeconds,
    };
  }

  /** Saves the container's output from `since` (seconds; 0 = all) and handles its exit. */
  private watch(
    attemptId: string,
    agent: string,
    container: Docker.Container,
    since: number,
  ): void {
    const entry: Running = { container, agent, done: Promise.resolve() };
    this.running.set(attemptId, entry);
    entry.done = (async () => {
      const out = createWriteStream(join(this.dir(agent), "agent.log"), { flags: "a" });
      const saved = container
        .logs({ follow: true, stdout: true, stderr: true, since })
        .then(async (stream) => {
          this.opts.docker.modem.demuxStream(stream, out, out);
          await finished(stream).catch(() => undefined);
        })
        .catch((err: unknown) =>
          this.opts.log.warn({ err, attemptId }, "could not follow the container's output"),
        );
      let exit: AttemptExit;
      try {
        const { StatusCode } = (await container.wait()) as { StatusCode: number };
        exit = { code: StatusCode, signal: signalOf(StatusCode), tail: "" };
      } catch (err) {
        // Gone already (removed by hand): nothing to wait for.
        this.opts.log.warn({ err, attemptId }, "could not wait for the container");
        exit = { code: null, signal: null, tail: "" };
      }
      await Promise.race([saved, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      out.end();
      await finished(out).catch(() => undefined);
      exit.tail = await tailFile(join(this.dir(agent), "agent.log"));
      await container.remove({ force: true }).catch((err: unknown) => {
        // 404: gone already; 409: its removal is already in progress.
        if (statusOf(err) !== 404 && statusOf(err) !== 409)
          this.opts.log.warn({ err, attemptId }, "could not remove the container");
      });
      // The attempt it runs now (it may have been re-keyed by adopt).
      const current = [...this.running.entries()].find(([, e]) => e === entry)?.[0];
      if (current === undefined) return;
      this.running.delete(current);
      for (const listener of this.listeners) listener(current, exit);
    })();
  }

  async adopt(attemptId: string, _pid: number, agent: string): Promise<boolean> {
    const watched = [...this.running.entries()].find(([, e]) => e.agent === agent);
    if (watched) {
      this.running.delete(watched[0]);
      this.running.set(attemptId, watched[1]);
      return true;
    }
    const container = this.opts.docker.getContainer(containerName(agent));
    const info = await container.inspect().catch(() => undefined);
    if (!info || info.Config.Labels[LABELS.instance] !== this.opts.instance) return false;
    if (!info.State.Running) {
      await container.remove({ force: true }).catch(() => undefined);
      return false;
    }
    await mkdir(this.dir(agent), { recursive: true, mode: 0o700 });
    this.watch(attemptId, agent, container, Math.floor(Date.now() / 1000));
    return true;
  }

  handOver(): boolean {
    return false;
  }

  /** After adoptions: removes the containers ended replicas of this installation left that no attempt took back. */
  async forgetOthers(ended: ReadonlySet<string>): Promise<void> {
    const containers = await this.opts.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.instance}=${this.opts.instance}`] },
    });
    const kept = new Set([...this.running.values()].map((e) => containerName(e.agent)));
    for (const c of containers) {
      const replica = c.Labels[LABELS.replica];
      if (replica !== undefined && !ended.has(replica)) continue;
      if (c.Names.some((n) => kept.has(n.replace(/^\//, "")))) continue;
      this.opts.log.warn(
        { container: c.Names[0], attempt: c.Labels[LABELS.attempt] },
        "removing a container no attempt runs in",
      );
      await this.opts.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
  }

  /** Stops the attempt's container; one another replica watches is found by name (it removes it). */
  async terminate(attemptId: string): Promise<void> {
    const entry = this.running.get(attemptId);
    const container = entry?.container ?? (await this.ours(containerName(attemptId)));
    if (!container) return;
    await container.stop({ t: this.graceSeconds }).catch((err: unknown) => {
      // 304: already stopped; 404: already gone.
      if (statusOf(err) !== 304 && statusOf(err) !== 404)
        this.opts.log.warn({ err, attemptId }, "could not stop the container");
    });
    await entry?.done;
  }

  /** The container of that name, if this installation started it. */
  private async ours(name: string): Promise<Docker.Container | undefined> {
    const container = this.opts.docker.getContainer(name);
    const info = await container.inspect().catch(() => undefined);
    return info?.Config.Labels[LABELS.instance] === this.opts.instance ? container : undefined;
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.terminate(id)));
  }
}
