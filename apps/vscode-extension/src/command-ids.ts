/** The ids the extension registers and package.json contributes; `manifest.test.ts` keeps the two in step. */
export const COMMANDS = {
  interactiveDebugging: "drydock.interactiveDebugging",
  resumeTask: "drydock.resumeTask",
  /** A paused task only (the manifest shows them while `drydock.paused` is set). */
  resumeOriginal: "drydock.resumeTaskWithOriginalCode",
  endAsFailed: "drydock.endTaskAsFailed",
  showChanges: "drydock.showChanges",
  openInConsole: "drydock.openInConsole",
  keepAlive: "drydock.keepAlive",
  refresh: "drydock.refresh",
  editInputOverride: "drydock.editInputOverride",
  clearInputOverride: "drydock.clearInputOverride",
} as const;

export const VIEW_CONTAINER_ID = "drydock";
export const VIEW_ID = "drydock.task";
