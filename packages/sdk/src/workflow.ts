/** `workflow(...)`: a DAG of task calls, built by running the workflow function against placeholders. */
import type { TaskSpec, WorkflowSpec } from "@drydock/contracts";
import { EntityName, findWorkflowProblems } from "@drydock/contracts";

import type { TaskEntity, WorkflowEntity } from "./entity.js";
import { ENTITY } from "./entity.js";
import type { InputShape } from "./inputs.js";
import { inputJsonSchemas, requiredInputs } from "./inputs.js";
import type { RunOptions } from "./local-runner.js";
import { runWorkflow } from "./local-runner.js";
import type { Ref, Unref } from "./refs.js";
import { BuildContext, isRef, makeRef, runInBuild, toBinding } from "./refs.js";
import type { TaskInputs, TaskRawInputs } from "./task.js";
import { WORKFLOW_INPUTS } from "./workflow-inputs.js";

/** What `workflow(options, fn)` takes besides the function. */
export interface WorkflowOptions<I extends InputShape> {
  /** Unique name: `wf`. */
  name: string;
  description?: string;
  /** Input name → zod schema; defaults make an input optional. */
  inputs?: I;
}

/** What a workflow function receives: a Ref per input. */
export type WorkflowInputRefs<I extends InputShape> = {
  [K in keyof TaskInputs<I>]-?: Ref<TaskInputs<I>[K]>;
};

/** The arguments of `workflow.run`: inputs may be left out when none is required. */
export type WorkflowRunArgs<I extends InputShape> =
  Record<never, never> extends TaskRawInputs<I>
    ? [inputs?: TaskRawInputs<I>, options?: RunOptions]
    : [inputs: TaskRawInputs<I>, options?: RunOptions];

/** A workflow: `.build()` gives its DAG, `.run(inputs)` runs it locally. */
export interface Workflow<I extends InputShape = InputShape, R = unknown> {
  readonly name: string;
  readonly [ENTITY]: WorkflowEntity;
  /** Runs the workflow function (once; cached) and returns the DAG and the specs of the tasks it calls. */
  build(): { workflow: WorkflowSpec; tasks: TaskSpec[] };
  /** Runs the workflow in this process with the local runner: `runWorkflow(this, inputs, options)`. */
  run(this: void, ...args: WorkflowRunArgs<I>): Promise<R>;
}

/**
 * Defines a workflow. The function receives Refs to the inputs, calls tasks with them, and returns the
 * result (a Ref, or arrays/objects of Refs and values). It runs once, when the workflow is built; it must be
 * synchronous and do nothing but wire tasks together.
 * @example const wf = workflow({ name: "wf", inputs: { name: z.string().default("world") } }, ({ name }) => sayHello({ name }));
 */
export function workflow<I extends InputShape = Record<never, never>, R = unknown>(
  options: WorkflowOptions<I>,
  fn: (inputs: WorkflowInputRefs<I>) => R,
): Workflow<I, Unref<R>> {
  const nameCheck = EntityName.safeParse(options.name);
  if (!nameCheck.success) {
    throw new Error(
      `workflow name ${JSON.stringify(options.name)} is not valid: ${nameCheck.error.issues[0]?.message ?? "bad name"}`,
    );
  }
  const name = nameCheck.data;
  if (typeof fn !== "function")
    throw new TypeError(`workflow "${name}" needs a function as its second argument`);
  const shape = (options.inputs ?? {}) as I;
  for (const input of Object.keys(shape)) {
    if (!EntityName.safeParse(input).success)
      throw new Error(
        `workflow "${name}" has an input named ${JSON.stringify(input)}, which is not a valid name`,
      );
  }

  let built:
    | { workflow: WorkflowSpec; tasks: TaskSpec[]; entities: ReadonlyMap<string, TaskEntity> }
    | undefined;

  const buildOnce = () => {
    if (built) return built;
    const context = new BuildContext(name);
    const output = runInBuild(context, () => {
      const refs = Object.fromEntries(
        Object.keys(shape).map((input) => [
          input,
          makeRef(context, { kind: "input", name: input }),
        ]),
      );
      const result = fn(refs as WorkflowInputRefs<I>);
      if (!isRef(result) && typeof (result as { then?: unknown } | null)?.then === "function") {
        throw new Error(
          `workflow "${name}": the workflow function returned a Promise. It must be synchronous: it only wires ` +
            "tasks together (task calls return Refs at once); the tasks themselves may be async",
        );
      }
      return (
        toBinding(context, result, `the output of workflow "${name}"`) ?? {
          kind: "literal" as const,
          value: null,
        }
      );
    });
    const spec: WorkflowSpec = {
      name,
      ...(options.description === undefined ? {} : { description: options.description }),
      inputs: inputJsonSchemas(shape),
      required: requiredInputs(shape),
      nodes: context.nodes,
      output,
    };
    const tasks = [...context.tasks.values()].map((entity) => entity.spec);
    const problems = findWorkflowProblems(spec, new Map(tasks.map((t) => [t.name, t])));
    if (problems.length > 0) {
      throw new Error(
        `workflow "${name}" is not valid:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      );
    }
    built = { workflow: spec, tasks, entities: new Map(context.tasks) };
    return built;
  };

  const entity: WorkflowEntity & { [WORKFLOW_INPUTS]: I } = {
    kind: "workflow",
    name,
    [WORKFLOW_INPUTS]: shape,
    build() {
      const { workflow: spec, tasks } = buildOnce();
      // Copies, so a caller editing what it got cannot change the cached DAG.
      return structuredClone({ workflow: spec, tasks });
    },
    taskEntities() {
      return buildOnce().entities;
    },
  };

  const wf: Workflow<I, Unref<R>> & { [WORKFLOW_INPUTS]: I } = {
    name,
    [ENTITY]: entity,
    [WORKFLOW_INPUTS]: shape,
    build: () => entity.build(),
    run(...args: WorkflowRunArgs<I>): Promise<Unref<R>> {
      const [inputs, runOptions] = args;
      return runWorkflow(wf, inputs, runOptions) as Promise<Unref<R>>;
    },
  };
  return wf;
}
