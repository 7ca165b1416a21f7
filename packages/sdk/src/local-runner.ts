/** The local runner: runs a workflow's DAG in this process, no platform involved (`drydock run` without --remote). */
import type { BindingScope, JsonValue, NodeSpec } from "@drydock/contracts";
import { nodeUpstream, resolveBinding, resolveNodeInputs } from "@drydock/contracts";

import type { TaskEntity, WorkflowEntity } from "./entity.js";
import { ENTITY } from "./entity.js";
import { InvalidInputsError, TaskFailedError } from "./errors.js";
import { parseInputs, toJsonValue } from "./inputs.js";
import { activeBuild } from "./refs.js";
import { workflowInputShape } from "./workflow-inputs.js";

/** A task attempt starting or ending; map elements report as their own nodes (`n2[0]`, `n2[1]`, …). */
export interface RunEvent {
  nodeId: string;
  task: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED";
  /** 1 for the first run, 2 for the first retry, … */
  attempt: number;
  error?: Error;
}

/** Options of the local runner. */
export interface RunOptions {
  /** How many task runs may be in flight at once. Default 8. */
  concurrency?: number;
  /** Called as task attempts start and end. */
  onEvent?: (event: RunEvent) => void;
}

/** A workflow made by `workflow(...)` (by this or another copy of the SDK), or its entity (`findEntities`). */
export type RunnableWorkflow = WorkflowEntity | { readonly [ENTITY]: WorkflowEntity };

function entityOfWorkflow(workflow: RunnableWorkflow): WorkflowEntity {
  return ENTITY in workflow ? workflow[ENTITY] : workflow;
}

/** Validates a workflow's raw inputs (unknown names rejected, defaults applied); throws InvalidInputsError. */
export function validateWorkflowInputs(
  workflow: RunnableWorkflow,
  raw: unknown,
): Record<string, JsonValue> {
  const entity = entityOfWorkflow(workflow);
  const shape = workflowInputShape(workflow);
  if (!shape)
    throw new TypeError(
      `workflow "${entity.name}" was not made by workflow(...) of @drydock/sdk; its input schemas are unknown`,
    );
  return toJsonValue(parseInputs(`workflow "${entity.name}"`, shape, raw)) as Record<
    string,
    JsonValue
  >;
}

/** Thrown into work that was queued when the run stopped after a failure; never escapes runWorkflow. */
class RunStopped extends Error {
  override name = "RunStopped";
}

/** At most `max` jobs at once, started in the order they were queued; `stop()` refuses the queued rest. */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  stopped = false;

  constructor(private readonly max: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      if (this.stopped) throw new RunStopped("the run stopped after a failure");
      return await job();
    } finally {
      // Hand the slot straight to the next job, so a new arrival cannot jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}

function withTimeout<T>(
  work: Promise<T>,
  task: string,
  timeoutSeconds: number | undefined,
): Promise<T> {
  if (timeoutSeconds === undefined) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`task ${task} timed out after ${timeoutSeconds}s`)),
      timeoutSeconds * 1000,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Rethrows a node's failure as it was thrown: an `onEvent` callback, for one, may throw something that is not an Error. */
function rethrow(failure: unknown): never {
  throw failure;
}

/**
 * A workflow input bound as a whole but not given (an optional input without default) leaves the task
 * input unset rather than failing to resolve.
 */
function withoutAbsentInputs(node: NodeSpec, inputs: Record<string, JsonValue>): NodeSpec {
  const bound = Object.entries(node.inputs).filter(
    ([, binding]) =>
      !(
        binding.kind === "input" &&
        binding.path === undefined &&
        inputs[binding.name] === undefined
      ),
  );
  return { ...node, inputs: Object.fromEntries(bound) };
}

/**
 * Runs a workflow in this process: validates the inputs, then runs ready nodes concurrently (bounded),
 * fanning map nodes out per element, with each task's retries and timeout. On the first failure that
 * survives its retries no new work starts; once the runs in flight end, it rejects with TaskFailedError.
 * Interactive (`vscode`) tasks simply run: a local run never starts an IDE.
 * @example const result = await runWorkflow(wf, { name: "Ada" }); // "Hello, Ada!"
 */
export function runWorkflow(
  workflow: RunnableWorkflow,
  rawInputs?: Record<string, unknown>,
  options: RunOptions = {},
): Promise<JsonValue> {
  // Checked synchronously, so the mistake fails the build it happens in rather than an unawaited promise.
  const building = activeBuild();
  if (building) {
    throw new Error(
      `cannot run workflow "${entityOfWorkflow(workflow).name}" while building workflow "${building.workflowName}": ` +
        "a workflow function only wires tasks together; call tasks there instead",
    );
  }
  return runDag(workflow, rawInputs, options);
}

async function runDag(
  workflow: RunnableWorkflow,
  rawInputs: Record<string, unknown> | undefined,
  options: RunOptions,
): Promise<JsonValue> {
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const entity = entityOfWorkflow(workflow);
  const inputs = validateWorkflowInputs(workflow, rawInputs ?? {});
  const { workflow: spec } = entity.build();
  const tasks = entity.taskEntities();
  const emit = (event: RunEvent) => options.onEvent?.(event);

  const outputs = new Map<string, JsonValue>();
  const scope: BindingScope = { input: (name) => inputs[name], node: (id) => outputs.get(id) };
  const slots = new Slots(concurrency);

  const attempt = async (
    nodeId: string,
    task: TaskEntity,
    taskInputs: Record<string, JsonValue>,
  ): Promise<JsonValue> => {
    const { name, retries, timeoutSeconds } = task.spec;
    for (let number = 1; ; number++) {
      emit({ nodeId, task: name, status: "RUNNING", attempt: number });
      let output: JsonValue;
      try {
        output = await withTimeout(
          Promise.resolve().then(() => task.execute(taskInputs)),
          name,
          timeoutSeconds,
        );
      } catch (error) {
        emit({
          nodeId,
          task: name,
          status: "FAILED",
          attempt: number,
          error: error instanceof Error ? error : new Error(String(error)),
        });
        // Inputs that do not fit will not fit next time either; nor is a retry wanted once the run is stopping.
        if (number > retries || error instanceof InvalidInputsError || slots.stopped) {
          // Stop before this slot is released, so the job queued behind it is refused rather than started.
          slots.stop();
          throw new TaskFailedError(nodeId, name, error);
        }
        continue;
      }
      emit({ nodeId, task: name, status: "SUCCEEDED", attempt: number });
      return output;
    }
  };

  const runNode = async (node: NodeSpec): Promise<JsonValue> => {
    const task = tasks.get(node.task);
    if (!task)
      throw new Error(
        `workflow "${entity.name}" calls task "${node.task}", which it did not register`,
      );
    let elements: Record<string, JsonValue>[];
    try {
      elements = resolveNodeInputs(withoutAbsentInputs(node, inputs), scope);
    } catch (error) {
      throw new TaskFailedError(node.id, node.task, error);
    }
    if (node.kind === "task") return slots.run(() => attempt(node.id, task, elements[0] ?? {}));
    // Every element settles before the node does, so nothing is left running when the run rejects.
    let firstFailure: unknown;
    const settled = await Promise.allSettled(
      elements.map((element, i) =>
        slots
          .run(() => attempt(`${node.id}[${i}]`, task, element))
          .catch((error: unknown) => {
            if (!(error instanceof RunStopped)) firstFailure ??= error;
            throw error;
          }),
      ),
    );
    const failure: unknown = firstFailure ?? settled.find((s) => s.status === "rejected")?.reason;
    if (failure !== undefined) rethrow(failure);
    return settled.map((s) => (s.status === "fulfilled" ? s.value : null));
  };

  const pending = new Map(
    spec.nodes.map((node) => [node.id, { node, upstream: nodeUpstream(node) }]),
  );
  const running = new Set<Promise<void>>();
  let failure: unknown;

  const startReady = () => {
    for (const [id, { node, upstream }] of pending) {
      if (failure !== undefined) return;
      if (![...upstream].every((dep) => outputs.has(dep))) continue;
      pending.delete(id);
      const run: Promise<void> = runNode(node)
        .then(
          (output) => {
            outputs.set(id, output);
          },
          (error: unknown) => {
            if (!(error instanceof RunStopped)) failure ??= error;
            slots.stop();
          },
        )
        .finally(() => running.delete(run));
      running.add(run);
    }
  };

  startReady();
  while (running.size > 0) {
    await Promise.race(running);
    startReady();
  }
  if (failure !== undefined) rethrow(failure);
  if (pending.size > 0)
    throw new Error(
      `workflow "${entity.name}" could not run nodes ${[...pending.keys()].join(", ")}: their inputs never became ready`,
    );
  return resolveBinding(spec.output, scope);
}
