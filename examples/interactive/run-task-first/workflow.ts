// Interactive tasks that open VS Code only when they fail: with runTaskFirst the task runs first; on
// success no IDE starts, on failure the error (message and stack) is shown in the console and in the IDE,
// which opens on the failed task with its inputs so you can fix it and resume.
//
//   drydock run --remote --wait examples/interactive/run-task-first/workflow.ts interactive_run_task_first --name Ada   # succeeds, no IDE
//   drydock run --remote examples/interactive/run-task-first/workflow.ts interactive_run_task_first --name ""           # fails, the IDE opens
//
// Locally a failure is simply a failure: no IDE starts.
import { ImageSpec, task, vscode, workflow } from "@drydock/sdk";
import { z } from "zod";

const image = new ImageSpec({ name: "interactive-tasks-example" });

export const sayHello = task(
  { name: "say_hello", image, inputs: { name: z.string() }, output: z.string() },
  vscode({ runTaskFirst: true }, ({ name }) => {
    if (name.trim() === "") throw new Error("say_hello needs a name, not a blank");
    return `Hello, ${name.trim()}!`;
  }),
);

export const interactiveRunTaskFirst = workflow(
  { name: "interactive_run_task_first", inputs: { name: z.string().default("world") } },
  ({ name }) => sayHello({ name }),
);
