// Interactive tasks with extensions: a VscodeConfig installs more VS Code extensions into the session.
//
//   drydock run --remote examples/interactive/extensions/workflow.ts interactive_extensions --name Ada
//
// Extensions are .vsix files, by URL (Open VSX, as the predefined COPILOT_EXTENSION and VIM_EXTENSION) or
// by a path inside the task's image; the Drydock extension is always there. One that cannot be downloaded
// or installed (say, offline) is reported in the IDE and the console, and the IDE opens without it.
import {
  COPILOT_EXTENSION,
  ImageSpec,
  task,
  VIM_EXTENSION,
  VscodeConfig,
  vscode,
  workflow,
} from "@drydock/sdk";
import { z } from "zod";

const image = new ImageSpec({ name: "interactive-tasks-example" });

export const config = new VscodeConfig();
config.addExtensions(COPILOT_EXTENSION); // a predefined URL
config.addExtensions(VIM_EXTENSION); // or any .vsix URL copied from Open VSX, or a path: "/opt/extensions/my.vsix"

export const sayHello = task(
  { name: "say_hello", image, inputs: { name: z.string() }, output: z.string() },
  vscode({ config }, ({ name }) => `Hello, ${name}!`),
);

export const interactiveExtensions = workflow(
  { name: "interactive_extensions", inputs: { name: z.string().default("world") } },
  ({ name }) => sayHello({ name }),
);
