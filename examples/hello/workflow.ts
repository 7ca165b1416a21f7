// The seed's example: an interactive task. Registered and run remotely, say_hello opens a VS Code session
// with its real inputs; run locally (`drydock run examples/hello/workflow.ts wf`) it simply runs.
import { ImageSpec, task, vscode, workflow } from "@drydock/sdk";
import { z } from "zod";

const image = new ImageSpec({ name: "interactive-tasks-example", packages: [] });

export const sayHello = task(
  { name: "say_hello", image, inputs: { name: z.string() }, output: z.string() },
  vscode({ maxIdleSeconds: 60_000 }, async ({ name }) => `Hello, ${name}!`),
);

export const wf = workflow(
  { name: "wf", inputs: { name: z.string().default("world") } },
  ({ name }) => sayHello({ name }),
);
