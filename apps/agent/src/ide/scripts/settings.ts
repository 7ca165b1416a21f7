/**
 * The session's values the workspace scripts need — the task, the entry, the control socket — written by
 * the agent as `.drydock/session.json` beside them, so the scripts themselves are the same for every session.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { SCRIPT_SETTINGS_FILE } from "../workspace-files.js";

export interface WorkspaceScriptSettings {
  /** The task's name. */
  task: string;
  /** The bundle's entry, relative to the workspace. */
  entry: string;
  /** The agent's control socket, where the resume script asks to resume. */
  controlSocket: string;
  /** The file (0600) holding the session's control token, for the scripts run outside the IDE's terminals. */
  controlTokenFile: string;
  /** `tsx/esm`, the TypeScript loader the agent itself uses, as a file URL. */
  tsxLoader: string;
}

/** The settings beside the script in `workspace`. */
export function readScriptSettings(workspace: string): WorkspaceScriptSettings {
  return JSON.parse(
    readFileSync(join(workspace, SCRIPT_SETTINGS_FILE), "utf8"),
  ) as WorkspaceScriptSettings;
}
