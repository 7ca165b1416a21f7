import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";

import type { NodeSelector } from "@drydock/contracts";
import type Docker from "dockerode";

import { statusOf } from "./engine.js";
import type { EngineExecutorOptions } from "./engine.js";
import { agentEnvironment, LABELS } from "./executor.js";
import type { AttemptExit, AttemptLaunch, Executor } from "./executor.js";
import { describeDemands, exitOf, isTerminal, newest, ServiceEnd } from "./swarm-task.js";
import type { Ended, ServiceLook, SwarmTask } from "./swarm-task.js";
import { tailFile } from "./tail.js";

/** `terminateGraceSeconds` becomes each service's stop grace period. */
export interface SwarmExecutorOptions extends EngineExecutorOptions {
  /**
   * How long an attempt's task may wait for a node (no node has the labels, or the free CPU and memory, it asks
   * for) before the attempt is reported as ended, with the engine's reason; default 20. Keep it below the
   * heartbeat timeout, or the attempt is declared lost first, with a vaguer message.
   */
  unplacedSeconds?: number;
  /**
   * Placement constraints every attempt gets before its task's own, e.g. `node.role==worker` to keep tasks off
   * the managers that run the control plane.
   */
  constraints?: string[];
  /** How often the services watched are polled for their task's state; default 500 ms. */
  pollMs?: number;
}

interface Watched {
  serviceId: string;
  /** The attempt the service was started for (its label). */
  agent: string;
  /** Settles once the task has ended, its output is saved and the service is removed. */
  done: Promise<void>;
}

/**
 * A service name for an attempt. Swarm names are DNS labels (letters, digits, '-' and '_', at most 63): the
 * attempt id's dots and brackets become '-', and a hash of the installation and the attempt keeps apart what
 * sanitises alike and what another installation on the same swarm runs.
 */
export function serviceName(instance: string, attemptId: string): string {
  const hash = createHash("sha256").update(`${instance}\n${attemptId}`).digest("hex").slice(0, 8);
  const readable = attemptId
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 44);
  return `drydock-${readable}-${hash}`;
}

/**
 * A task's nodeSelector as Swarm placement constraints: `{ gpu: "true" }` → `node.labels.gpu==true`. Swarm's
 * constraint syntax has no '/' in label keys and no empty values (both valid Kubernetes labels): such a
 * selector is refused here, by name, rather than by the engine with "key is invalid".
 */
export function placementConstraints(task: string, selector: NodeSelector = {}): string[] {
  return Object.entries(selector).map(([key, value]) => {
    if (key.includes("/") || value === "")
      throw new Error(
        `task "${task}": Docker Swarm cannot place on the node label ${key}=${JSON.stringify(value)}: its constraints take label keys without '/' and non-empty values`,
      );
    return `node.labels.${key}==${value}`;
  });
}

/**
 * Runs each attempt as a Docker Swarm service of its task's image, on whichever node Swarm picks: the agent is
 * the image's entrypoint, started with the attempt's token and the server's address on an overlay network,
 * and it only dials out. The task's resources become the service's reservations (what placement needs free on
 * a node) and limits; its nodeSelector becomes placement constraints. Restarts are off: a failed attempt is
 * retried by Drydock, as a new service. The service's output is saved as the attempt's agent.log; once its task
 * has ended the service is removed.
 *
 * The services are plain replicated services of one replica rather than replicated jobs: removing a job
 * service leaves its running task behind on Docker 20.10 (moby/moby#44312, fixed in 24), so a terminated
 * attempt would run on.
 *
 * Services outlive the server, and every replica of it sees them all: any replica terminates an attempt by its
 * labels, a restarted one adopts them by label, and the services of ended replicas no attempt took back are
 * removed (`forgetOthers`).
 */
export class SwarmExecutor implements Executor {
  readonly kind = "swarm";
  readonly isolation = "container";
  readonly warmAgents = false;
  private readonly running = new Map<string, Watched>();
  private readonly listeners: ((attemptId: string, exit: AttemptExit) => void)[] = [];
  private readonly graceSeconds: number;
  private readonly unplacedMs: number;
  /** How long a removed service's task may take to stop before it is given up on (its node may be gone). */
  private readonly stoppingMs: number;
  private readonly pollMs: number;

  constructor(private readonly opts: SwarmExecutorOptions) {
    this.graceSeconds = opts.terminateGraceSeconds ?? 5;
    this.unplacedMs = (opts.unplacedSeconds ?? 20) * 1000;
    this.stoppingMs = (this.graceSeconds + 15) * 1000;
    this.pollMs = opts.pollMs ?? 500;
  }

  onExit(listener: (attemptId: string, exit: AttemptExit) => void): void {
    this.listeners.push(listener);
  }

  private dir(agent: string): string {
    return join(this.opts.attemptsDir, agent);
  }

  /**
   * Creates the attempt's service. Its pid is 0: the agent runs on some node, not here. Any number says
   * "launched" to the scheduler (a restart adopts the attempt instead of queueing it again, and the sweeper
   * watches its heartbeat); this executor finds its services by label, never by pid.
   */
  async launch(attempt: AttemptLaunch): Promise<{ pid: number }> {
    const constraints = [
      ...(this.opts.constraints ?? []),
      ...placementConstraints(attempt.task.name, attempt.task.nodeSelector),
    ];
    await mkdir(this.dir(attempt.attemptId), { recursive: true, mode: 0o700 });
    try {
      // A service a previous launch of this attempt left (its server died before recording it).
      for (const s of await this.servicesOf(attempt.attemptId)) await this.removeService(s.ID);
      const created = await this.opts.docker.createService(this.serviceSpec(attempt, constraints));
      this.watch(attempt.attemptId, attempt.attemptId, created.id, 0);
      return { pid: 0 };
    } catch (error) {
      throw this.launchError(error);
    }
  }

  /** What the engine's refusals mean here: the two a setting causes, named with the setting. */
  private launchError(error: unknown): unknown {
    const message = (error as { json?: { message?: string } }).json?.message ?? "";
    if (statusOf(error) === 503)
      return new Error(
        `the Docker engine at DRYDOCK_DOCKER_SOCKET is not a swarm manager (${message.trim()}): the Swarm executor needs a manager's socket`,
      );
    if (message.includes(`network ${this.opts.network} not found`))
      return new Error(
        `the swarm network ${this.opts.network} is not there: create it (docker network create --driver overlay --attachable ${this.opts.network}) or set DRYDOCK_SWARM_NETWORK to one`,
      );
    return error;
  }

  /** The attempt's service: its agent's arguments and environment, its labels, its placement and limits. */
  private serviceSpec(attempt: AttemptLaunch, constraints: string[]): Docker.CreateServiceOptions {
    const { cpu, memoryMiB } = attempt.task.resources ?? {};
    const resources = {
      ...(cpu === undefined ? {} : { NanoCPUs: Math.round(cpu * 1e9) }),
      ...(memoryMiB === undefined ? {} : { MemoryBytes: memoryMiB * 1024 * 1024 }),
    };
    const labels = {
      [LABELS.instance]: this.opts.instance,
      ...(this.opts.replica === undefined ? {} : { [LABELS.replica]: this.opts.replica }),
      [LABELS.attempt]: attempt.attemptId,
      [LABELS.execution]: attempt.executionId,
      [LABELS.task]: attempt.task.name,
    };
    return {
      Name: serviceName(this.opts.instance, attempt.attemptId),
      Labels: labels,
      Mode: { Replicated: { Replicas: 1 } },
      TaskTemplate: {
        ContainerSpec: {
          Image: attempt.task.image?.ref ?? this.opts.taskImage,
          Args: ["--attempt", attempt.attemptId],
          Env: Object.entries({
            ...this.opts.env,
            ...agentEnvironment(attempt, this.opts.endpoint()),
            // A Swarm template: the node the task was placed on, for the task (and its logs) to tell.
            DRYDOCK_NODE: "{{.Node.Hostname}}",
          }).map(([k, v]) => `${k}=${v}`),
          Labels: labels,
          // Docker's init (tini) is PID 1: it forwards the stop signal to the agent and reaps what the task leaves.
          Init: true,
          StopGracePeriod: this.graceSeconds * 1e9,
        },
        // Drydock retries a failed attempt, as a new attempt: Swarm must not run this one again.
        RestartPolicy: { Condition: "none" },
        Resources: { Limits: resources, Reservations: resources },
        Placement: { Constraints: constraints },
        Networks: [{ Target: this.opts.network }],
      },
    };
  }

  /** This installation's services, all or the attempt's (by label, whichever replica started them). */
  private async servicesOf(attemptId?: string): Promise<Docker.Service[]> {
    return this.opts.docker.listServices({
      filters: {
        label: [
          `${LABELS.instance}=${this.opts.instance}`,
          ...(attemptId === undefined ? [] : [`${LABELS.attempt}=${attemptId}`]),
        ],
      },
    });
  }

  /** The tasks of this installation's services for the attempt; they outlive their service while they stop. */
  private async tasksOf(attemptId: string): Promise<SwarmTask[]> {
    return (await this.opts.docker.listTasks({
      filters: {
        label: [`${LABELS.instance}=${this.opts.instance}`, `${LABELS.attempt}=${attemptId}`],
      },
    })) as SwarmTask[];
  }

  /** Removes a service: Swarm stops its task (SIGTERM, SIGKILL after the grace) and then removes it. */
  private async removeService(id: string): Promise<void> {
    await this.opts.docker
      .getService(id)
      .remove()
      .catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
  }

  /**
   * Saves the service's output from `since` (seconds; 0 = all), waits for its task to end, reports the exit
   * and removes the service.
   */
  private watch(attemptId: string, agent: string, serviceId: string, since: number): void {
    const entry: Watched = { serviceId, agent, done: Promise.resolve() };
    this.running.set(attemptId, entry);
    entry.done = (async () => {
      const log = join(this.dir(agent), "agent.log");
      const following = this.follow(attemptId, serviceId, log, since);
      const ended = await this.untilEnded(attemptId, agent, serviceId);
      // A removed service's last lines may still be on their way; what has come is what there is.
      if (ended.how === "removed") await sleep(500);
      await following.stop();
      // The followed stream never ends by itself, and what it has given when the task ends may lag behind:
      // a service still there gives its whole output once more, in full.
      if (ended.how === "ended") await this.saveWholeOutput(attemptId, serviceId, log);
      const exit = exitOf(ended, await tailFile(log), this.unplacedMs / 1000);
      await this.removeService(serviceId).catch((err: unknown) =>
        this.opts.log.warn({ err, attemptId }, "could not remove the service"),
      );
      // The attempt it runs now (it may have been re-keyed by adopt).
      const current = [...this.running.entries()].find(([, e]) => e === entry)?.[0];
      if (current === undefined) return;
      this.running.delete(current);
      for (const listener of this.listeners) listener(current, exit);
    })();
  }

  /** Appends the service's output to `log` as it comes, until stopped. */
  private follow(
    attemptId: string,
    serviceId: string,
    log: string,
    since: number,
  ): { stop(): Promise<void> } {
    const out = createWriteStream(log, { flags: "a" });
    const abort = new AbortController();
    const streaming = this.opts.docker
      .getService(serviceId)
      .logs({ follow: true, stdout: true, stderr: true, since, abortSignal: abort.signal })
      .then(async (stream) => {
        this.opts.docker.modem.demuxStream(stream, out, out);
        await finished(stream).catch(() => undefined);
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted)
          this.opts.log.warn({ err, attemptId }, "could not follow the service's output");
      });
    return {
      stop: async () => {
        abort.abort();
        await streaming;
        out.end();
        await finished(out).catch(() => undefined);
      },
    };
  }

  /** Replaces `log` with the service's whole output; keeps what was followed if the engine cannot give it. */
  private async saveWholeOutput(attemptId: string, serviceId: string, log: string): Promise<void> {
    try {
      // Not followed, the engine's answer comes whole, as a Buffer of multiplexed frames.
      const whole: unknown = await this.opts.docker.getService(serviceId).logs({
        stdout: true,
        stderr: true,
        abortSignal: AbortSignal.timeout(10_000),
      });
      const out = createWriteStream(log);
      const frames = Readable.from([Buffer.isBuffer(whole) ? whole : Buffer.from(String(whole))]);
      this.opts.docker.modem.demuxStream(frames, out, out);
      await finished(frames);
      out.end();
      await finished(out);
    } catch (err) {
      // 404: removed meanwhile (a terminate on another replica).
      if (statusOf(err) !== 404)
        this.opts.log.warn({ err, attemptId }, "could not read the service's whole output");
    }
  }

  /** The service's newest task, and whether the service is still there when that matters (no task, or one going). */
  private async look(agent: string, serviceId: string): Promise<ServiceLook> {
    const task = newest((await this.tasksOf(agent)).filter((t) => t.ServiceID === serviceId));
    if (task?.DesiredState === "running") return { task, exists: true };
    const exists = await this.opts.docker
      .getService(serviceId)
      .inspect()
      .then(
        () => true,
        (err: unknown) => {
          if (statusOf(err) === 404) return false;
          throw err;
        },
      );
    return { ...(task ? { task } : {}), exists };
  }

  /**
   * Polls the service until its task has ended, the service is gone (removed by a terminate here or on another
   * replica), or no node has taken its task for `unplacedSeconds`.
   */
  private async untilEnded(attemptId: string, agent: string, serviceId: string): Promise<Ended> {
    const end = new ServiceEnd(
      { unplacedMs: this.unplacedMs, stoppingMs: this.stoppingMs },
      (task) =>
        this.opts.log.warn(
          { attemptId, reason: task.Status.Err, demands: describeDemands(task) },
          "no node can run the attempt yet",
        ),
    );
    let failing = false;
    for (;;) {
      try {
        const ended = end.next(await this.look(agent, serviceId));
        if (ended) return ended;
        failing = false;
      } catch (err) {
        // The manager may be electing a leader or restarting: the attempt has not ended for that.
        if (!failing) this.opts.log.warn({ err, attemptId }, "could not read the service's task");
        failing = true;
      }
      await sleep(this.pollMs);
    }
  }

  async adopt(attemptId: string, _pid: number, agent: string): Promise<boolean> {
    const watched = [...this.running.entries()].find(([, e]) => e.agent === agent);
    if (watched) {
      this.running.delete(watched[0]);
      this.running.set(attemptId, watched[1]);
      return true;
    }
    const services = await this.servicesOf(agent);
    let adopted = false;
    for (const service of services) {
      const task = newest((await this.tasksOf(agent)).filter((t) => t.ServiceID === service.ID));
      if (adopted || (task && isTerminal(task))) {
        // Ended while no server watched it (its exit is lost: the attempt is marked lost), or a duplicate.
        await this.removeService(service.ID);
        continue;
      }
      await mkdir(this.dir(agent), { recursive: true, mode: 0o700 });
      this.watch(attemptId, agent, service.ID, Math.floor(Date.now() / 1000));
      adopted = true;
    }
    return adopted;
  }

  handOver(): boolean {
    return false;
  }

  /**
   * After adoptions: removes the services of this installation started by replicas in `ended` (or by a
   * version that did not label them with one) that no adoption took back. Live replicas' are left alone.
   */
  async forgetOthers(ended: ReadonlySet<string>): Promise<void> {
    const kept = new Set([...this.running.values()].map((e) => e.serviceId));
    for (const s of await this.servicesOf()) {
      const labels = s.Spec?.Labels ?? {};
      const replica = labels[LABELS.replica];
      if (kept.has(s.ID) || (replica !== undefined && !ended.has(replica))) continue;
      this.opts.log.warn(
        { service: s.Spec?.Name, attempt: labels[LABELS.attempt], replica },
        "removing a service no attempt runs in",
      );
      await this.removeService(s.ID).catch((err: unknown) =>
        this.opts.log.warn({ err, service: s.Spec?.Name }, "could not remove the service"),
      );
    }
  }

  /**
   * Removes the attempt's service, whichever replica started it, and resolves once its task is gone (stopped
   * with SIGTERM, SIGKILL after the grace). A task on a node that went away may never report back: after the
   * grace and some margin it is left to the swarm.
   */
  async terminate(attemptId: string): Promise<void> {
    const agent = this.running.get(attemptId)?.agent ?? attemptId;
    for (const s of await this.servicesOf(agent)) await this.removeService(s.ID);
    const deadline = Date.now() + this.stoppingMs;
    while ((await this.tasksOf(agent)).length > 0) {
      if (Date.now() > deadline) {
        this.opts.log.warn(
          { attemptId },
          "the attempt's task has not stopped yet (its node may be gone): the swarm removes it when it can",
        );
        break;
      }
      await sleep(this.pollMs);
    }
    await this.running.get(attemptId)?.done;
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.terminate(id)));
  }
}
