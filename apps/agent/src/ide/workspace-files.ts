/**
 * The names of Drydock's files in a session's workspace, shared by the agent that writes them and the
 * workspace scripts that read them (so this module imports nothing).
 */

/** Interactive Debugging's program. */
export const ENTRYPOINT_FILE = "drydock_interactive_entrypoint.mjs";
/** Resume Task's program. */
export const RESUME_FILE = "drydock_resume_task.mjs";
export const FIRST_RUN_ERROR_FILE = "DRYDOCK_FIRST_RUN_ERROR.txt";
/** Where the session's own data lives inside the workspace: the inputs, the task's description, the scripts' settings. */
export const DATA_DIR = ".drydock";
/** The inputs the task really received. */
export const INPUTS_FILE = `${DATA_DIR}/inputs.json`;
/** Inputs that Interactive Debugging uses instead of the received ones when present (the extension writes it); Resume Task never reads it. */
export const INPUT_OVERRIDE_FILE = `${DATA_DIR}/inputs.override.json`;
/** The session's values the workspace scripts read when they run (see scripts/settings.ts). */
export const SCRIPT_SETTINGS_FILE = `${DATA_DIR}/session.json`;
