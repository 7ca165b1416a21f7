// Interactive tasks and resources: an IDE left alone ends after maxIdleSeconds, so it does not hold the
// task's CPU and memory for ever.
//
//   drydock run --remote examples/interactive/manage-resources/workflow.ts interactive_resources --name Ada
//
// Idle means no traffic through the relay and no editor heartbeat; the console and the IDE count down, and
// `drydock keep-alive <execution> n0` gives the session its full maxIdleSeconds again. An idle end fails the
// attempt with the reason SESSION_IDLE (it is never retried). The default is 36 000 s (10 h).
import { ImageSpec, task, vscode, workflow } from "@drydock/sdk";
import { z } from "zod";

const image = new ImageSpec({ name: "interactive-tasks-example" });

export const sayHello = task(
  {
    name: "say_hello",
    image,
    inputs: { name: z.string() },
    output: z.string(),
    resources: { cpu: 1, memoryMiB: 512 },
  },
  vscode({ maxIdleSeconds: 60_000 }, ({ name }) => `Hello, ${name}!`),
);

export const interactiveResources = workflow(
  { name: "interactive_resources", inputs: { name: z.string().default("world") } },
  ({ name }) => sayHello({ name }),
);
