/**
 * Interactive Debugging's program, written into the workspace as `drydock_interactive_entrypoint.mjs`: runs
 * the task with the inputs it really received (or the Drydock extension's input override), from the
 * workspace's sources, edits included, and prints its result. It writes no outputs, so it can run as often
 * as the user likes, under the debugger or by hand.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";

import { findEntities } from "@drydock/sdk";

import { INPUT_OVERRIDE_FILE, INPUTS_FILE } from "../workspace-files.js";
import { readScriptSettings } from "./settings.js";

const here = dirname(fileURLToPath(import.meta.url));
const { task: taskName, entry, tsxLoader } = readScriptSettings(here);

// Stack traces point at the .ts lines, and TypeScript is loaded the way the agent loads it.
process.setSourceMapsEnabled(true);
await import(tsxLoader);

// An override (the Drydock extension's "Edit Input Override") replaces the received inputs here only.
const override = await readFile(join(here, INPUT_OVERRIDE_FILE), "utf8").catch(() => undefined);
const inputs = JSON.parse(override ?? (await readFile(join(here, INPUTS_FILE), "utf8"))) as Record<
  string,
  unknown
>;
if (override !== undefined)
  console.log(
    `using the input override in ${INPUT_OVERRIDE_FILE}, not the inputs the task received`,
  );
const entryModule = (await import(pathToFileURL(join(here, entry)).href)) as Record<
  string,
  unknown
>;

const task = findEntities(entryModule).tasks.get(taskName);
if (!task) throw new Error(`task "${taskName}" is not defined in ${entry} any more`);
console.log(`running ${taskName} with ${inspect(inputs, { depth: 4, breakLength: 120 })}`);
const output = await task.execute(inputs);
console.log(`${taskName} returned ${JSON.stringify(output)}`);
