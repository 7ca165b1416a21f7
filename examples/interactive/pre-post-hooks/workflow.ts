// Interactive tasks with hooks: preExecute runs in the task's process before the IDE starts (set-up),
// postExecute after it stops, on resume or on idle (clean-up, pushing the code you changed).
//
//   drydock run --remote examples/interactive/pre-post-hooks/workflow.ts interactive_hooks --name Ada
//   drydock logs <execution> n0    # the task's log says when each hook ran, and what it printed
//
// A hook that throws fails the attempt. Run locally the hooks do not run: the task function simply runs.
import { ImageSpec, task, vscode, workflow } from "@drydock/sdk";
import { z } from "zod";

const image = new ImageSpec({ name: "interactive-tasks-example" });

const calls: string[] = [];

/** The hooks that ran in this process, in order (the examples' test reads it). */
export const hookCalls = (): readonly string[] => [...calls];

export function setUpProxy(): void {
  calls.push("set up");
  console.log("set up");
}

export function pushCode(): void {
  calls.push("push code");
  console.log("push code");
}

export const sayHello = task(
  { name: "say_hello", image, inputs: { name: z.string() }, output: z.string() },
  vscode({ preExecute: setUpProxy, postExecute: pushCode }, ({ name }) => `Hello, ${name}!`),
);

export const interactiveHooks = workflow(
  { name: "interactive_hooks", inputs: { name: z.string().default("world") } },
  ({ name }) => sayHello({ name }),
);
