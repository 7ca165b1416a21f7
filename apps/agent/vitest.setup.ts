/**
 * The tests run the agent from its sources, but a session's workspace scripts are the built programs
 * (tsup.config.ts): build them first, so the tests exercise what a session really gets.
 */
import { build } from "tsup";

import { workspaceScripts } from "./tsup.config.js";

export default async function buildWorkspaceScripts(): Promise<void> {
  await build({ ...workspaceScripts, config: false, silent: true });
}
