// Interactive tasks, the basic example: `vscode(fn)` makes say_hello open VS Code where it runs.
//
//   drydock run --remote examples/interactive/basic/workflow.ts interactive_basic --name Ada
//
// On the server the node goes RUNNING and its VSCode (User) link appears in the console once the IDE is
// ready: run "Interactive Debugging" there with the real inputs, edit, then "Resume Task" (or
// `drydock resume <execution> n0`) to run the edited task for real. Run locally (without --remote) the
// wrapper is a pass-through: say_hello simply runs and no IDE starts.
import { ImageSpec, task, vscode, workflow } from "@drydock/sdk";
import { z } from "zod";

const image = new ImageSpec({ name: "interactive-tasks-example" });

export const sayHello = task(
  { name: "say_hello", image, inputs: { name: z.string() }, output: z.string() },
  vscode(({ name }) => `Hello, ${name}!`),
);

export const interactiveBasic = workflow(
  { name: "interactive_basic", inputs: { name: z.string().default("world") } },
  ({ name }) => sayHello({ name }),
);
